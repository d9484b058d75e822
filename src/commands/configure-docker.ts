import { Flags } from '@oclif/core';
import { CredrelayCommand } from '../cli/base-command.js';
import {
  dockerConfigPath,
  helperOnPath,
  planDockerConfig,
  readDockerConfig,
  writeDockerConfig,
} from '../docker/docker-config.js';

export default class ConfigureDockerCommand extends CredrelayCommand {
  static override summary = "Point Docker's config.json at credrelay (credsStore, or credHelpers for some registries).";
  static override description = `Edits $DOCKER_CONFIG/config.json (default ~/.docker/config.json). Without --registries it sets "credsStore": "credrelay", so every registry goes through credrelay; with --registries it adds "credHelpers" entries for those registries only (skopeo, podman and buildah read only credHelpers).

Every other key and value is kept. The file is written atomically with its permissions kept, the previous version is saved as config.json.bak, and a second run changes nothing.`;
  static override flags = {
    registries: Flags.string({
      description: 'comma-separated registries to route through credrelay with credHelpers',
      helpValue: 'h1,h2',
    }),
    'dry-run': Flags.boolean({ description: 'print the change without writing it' }),
  };
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --registries 123456789012.dkr.ecr.us-east-1.amazonaws.com,us-docker.pkg.dev',
    '<%= config.bin %> <%= command.id %> --dry-run',
  ];

  async run(): Promise<void> {
    const { flags } = await this.parse(ConfigureDockerCommand);
    const path = dockerConfigPath();
    const registries = flags.registries
      ?.split(',')
      .map((registry) => registry.trim())
      .filter(Boolean);
    const { config, text } = readDockerConfig(path);
    const plan = planDockerConfig(config, registries);

    if (helperOnPath() === undefined) {
      this.warn(
        'docker-credential-credrelay is not on PATH, so Docker would fail to run it: run `npm link` in the credrelay checkout, or `npm install -g credrelay`',
      );
    }
    for (const warning of plan.warnings) this.warn(warning);
    if (plan.changes.length === 0) {
      this.log(`${path} already uses credrelay; nothing changed`);
      return;
    }
    for (const change of plan.changes) this.log(`${flags['dry-run'] ? 'would ' : ''}${change}`);
    if (flags['dry-run']) {
      this.log(`dry run: ${path} was not written; it would become:\n${JSON.stringify(plan.next, null, '\t')}`);
      return;
    }
    const { backup } = writeDockerConfig(path, plan.next, text !== undefined);
    this.log(`wrote ${path}${backup ? ` (previous version in ${backup})` : ''}`);
  }
}
