/**
 * Every command of the management CLI, by id: oclif's "explicit" command discovery. The CLI is bundled into one
 * file (dist/src/cli/bundle.cjs) with oclif itself, so a command starts without Node resolving and loading hundreds
 * of modules; each command still loads its heavy dependencies (cloud SDKs, the keychain module) only when it runs.
 */
import CacheClearCommand from './commands/cache/clear.js';
import CacheListCommand from './commands/cache/list.js';
import ConfigureDockerCommand from './commands/configure-docker.js';
import DaemonRunCommand from './commands/daemon/run.js';
import DaemonStartCommand from './commands/daemon/start.js';
import DaemonStatusCommand from './commands/daemon/status.js';
import DaemonStopCommand from './commands/daemon/stop.js';
import DoctorCommand from './commands/doctor.js';
import LockCommand from './commands/lock.js';
import LoginCommand from './commands/login.js';
import LogoutCommand from './commands/logout.js';
import ProvidersCommand from './commands/providers.js';
import RouteCommand from './commands/route.js';
import SecretsListCommand from './commands/secrets/list.js';
import SecretsSetCommand from './commands/secrets/set.js';
import SecretsUnsetCommand from './commands/secrets/unset.js';
import UnlockCommand from './commands/unlock.js';

export const COMMANDS = {
  'cache:clear': CacheClearCommand,
  'cache:list': CacheListCommand,
  'configure-docker': ConfigureDockerCommand,
  'daemon:run': DaemonRunCommand,
  'daemon:start': DaemonStartCommand,
  'daemon:status': DaemonStatusCommand,
  'daemon:stop': DaemonStopCommand,
  doctor: DoctorCommand,
  lock: LockCommand,
  login: LoginCommand,
  logout: LogoutCommand,
  providers: ProvidersCommand,
  route: RouteCommand,
  'secrets:list': SecretsListCommand,
  'secrets:set': SecretsSetCommand,
  'secrets:unset': SecretsUnsetCommand,
  unlock: UnlockCommand,
};
