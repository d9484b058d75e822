import { Flags } from '@oclif/core';
import { CredrelayCommand } from '../shared/base-command.js';
import {
  type DockerConfigPlan,
  type ReplacedHelpers,
  dockerConfigPath,
  helperOnPath,
  planDockerConfig,
  planUndo,
  readDockerConfig,
  recordReplacedHelpers,
  replacedHelpers,
  writeDockerConfig,
} from '../docker/docker-config.js';
import {
  CONTAINERS_DROP_IN,
  containersDropInPath,
  containersDropInState,
  removeContainersDropIn,
  writeContainersDropIn,
} from '../docker/containers-config.js';

export default class ConfigureDockerCommand extends CredrelayCommand {
  static override summary = "Point Docker's config.json at credrelay (credsStore, or credHelpers for some registries).";
  static override description = `Edits $DOCKER_CONFIG/config.json (default ~/.docker/config.json). Without --registries it sets "credsStore": "credrelay", so every registry goes through credrelay; with --registries it adds "credHelpers" entries for those registries only (skopeo, podman and buildah read only credHelpers).

podman, buildah and skopeo keep logins in their own auth file unless registries.conf names credential helpers: with --containers a drop-in (credential-helpers = ["credrelay"]) goes where they read it, $HOME/.config/containers/registries.conf.d/50-credrelay.conf (for root /etc/containers/registries.conf.d/), so that their logins, logouts and lookups go through credrelay too.

Every other key and value is kept. The file is written atomically with its permissions kept, the previous version is saved as config.json.bak, and a second run changes nothing. What was replaced (the previous credsStore or credHelpers entries) is recorded in credrelay's state directory, so that --undo can put it back: --undo restores those values, or removes credrelay's entries where nothing was replaced.`;
  static override flags = {
    registries: Flags.string({
      description: 'comma-separated registries to route through credrelay with credHelpers',
      helpValue: 'h1,h2',
    }),
    'dry-run': Flags.boolean({ description: 'print the change without writing it' }),
    containers: Flags.boolean({
      description:
        'also make podman, buildah and skopeo log in and look up credentials through credrelay (a registries.conf drop-in)',
    }),
    undo: Flags.boolean({
      description:
        "restore the credsStore/credHelpers entries credrelay replaced, or remove credrelay's entries, and remove its registries.conf drop-in",
      exclusive: ['registries', 'containers'],
    }),
  };
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --registries 123456789012.dkr.ecr.us-east-1.amazonaws.com,us-docker.pkg.dev',
    '<%= config.bin %> <%= command.id %> --containers',
    '<%= config.bin %> <%= command.id %> --dry-run',
    '<%= config.bin %> <%= command.id %> --undo',
  ];

  async run(): Promise<void> {
    const { flags } = await this.parse(ConfigureDockerCommand);
    const path = dockerConfigPath();
    const registries = flags.registries
      ?.split(',')
      .map((registry) => registry.trim())
      .filter(Boolean);
    const { config, text } = readDockerConfig(path);
    if (flags.undo) {
      this.apply(path, planUndo(config, replacedHelpers(path)), text !== undefined, flags['dry-run'], 'forget');
      const dropIn = containersDropInPath();
      if (containersDropInState(dropIn) === 'ours') {
        if (flags['dry-run']) this.log(`would remove ${dropIn}`);
        else if (removeContainersDropIn(dropIn)) this.log(`removed ${dropIn}`);
      }
      return;
    }
    const plan = planDockerConfig(config, registries);
    if (flags.containers) this.configureContainers(flags['dry-run']);

    if (helperOnPath() === undefined) {
      this.warn(
        'docker-credential-credrelay is not on PATH, so Docker would fail to run it: run `npm link` in the credrelay checkout, or `npm install -g` the tarball `npm pack` makes there',
      );
    }
    for (const warning of plan.warnings) this.warn(warning);
    if (plan.changes.length === 0) {
      this.log(`${path} already uses credrelay; nothing changed`);
      return;
    }
    this.apply(path, plan, text !== undefined, flags['dry-run'], plan.replaced);
  }

  /** The registries.conf drop-in that sends podman, buildah and skopeo through credrelay. */
  private configureContainers(dryRun: boolean): void {
    const dropIn = containersDropInPath();
    if (containersDropInState(dropIn) === 'ours') {
      this.log(`${dropIn} already sends podman, buildah and skopeo through credrelay`);
    } else if (dryRun) {
      this.log(`would write ${dropIn}:\n${CONTAINERS_DROP_IN}`);
    } else {
      writeContainersDropIn(dropIn);
      this.log(`wrote ${dropIn}: podman, buildah and skopeo log in and look up credentials through credrelay`);
    }
  }

  /** Writes a plan; `record` is what it replaced (kept for --undo), or 'forget' after an undo. */
  private apply(
    path: string,
    plan: DockerConfigPlan,
    hadFile: boolean,
    dryRun: boolean,
    record: ReplacedHelpers | 'forget',
  ): void {
    if (plan.changes.length === 0) {
      this.log(`${path} has no credrelay entries; nothing changed`);
      return;
    }
    for (const change of plan.changes) this.log(dryRun ? `would ${change.replace(/^removed /, 'remove ')}` : change);
    if (dryRun) {
      this.log(`dry run: ${path} was not written; it would become:\n${JSON.stringify(plan.next, null, '\t')}`);
      return;
    }
    const { backup } = writeDockerConfig(path, plan.next, hadFile);
    recordReplacedHelpers(path, record);
    this.log(`wrote ${path}${backup ? ` (previous version in ${backup})` : ''}`);
  }
}
