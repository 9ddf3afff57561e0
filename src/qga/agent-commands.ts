import { ProtocolError } from '../errors.js';
import { unwrapReply, type QgaReply } from './protocol.js';
import { anyList, anyObject, bool, int, listOf, num, object, oneOf, optional, str, type Shape } from './reply-shape.js';

/** Argument and reply types of the QGA commands qga-play uses (from QEMU's qapi-schema.json). */
export interface GuestInfo {
  version: string;
  supported_commands: { name: string; enabled: boolean; 'success-response': boolean }[];
}

export interface GuestExecStatus {
  exited: boolean;
  exitcode?: number;
  signal?: number;
  'out-data'?: string;
  'err-data'?: string;
  'out-truncated'?: boolean;
  'err-truncated'?: boolean;
}

export interface GuestFileRead {
  count: number;
  'buf-b64': string;
  eof: boolean;
}

export interface GuestNetworkInterface {
  name: string;
  'hardware-address'?: string;
  'ip-addresses'?: { 'ip-address-type': 'ipv4' | 'ipv6'; 'ip-address': string; prefix: number }[];
  statistics?: Record<string, number>;
}

/** Every command with its arguments and its reply. */
export interface QgaCommands {
  'guest-ping': { args: undefined; ret: Record<string, never> };
  'guest-sync': { args: { id: number }; ret: number };
  'guest-sync-delimited': { args: { id: number }; ret: number };
  'guest-info': { args: undefined; ret: GuestInfo };
  'guest-get-time': { args: undefined; ret: number };
  'guest-set-time': { args: { time?: number } | undefined; ret: Record<string, never> };
  'guest-shutdown': { args: { mode?: 'powerdown' | 'halt' | 'reboot' } | undefined; ret: Record<string, never> };
  'guest-suspend-disk': { args: undefined; ret: Record<string, never> };
  'guest-suspend-ram': { args: undefined; ret: Record<string, never> };
  'guest-suspend-hybrid': { args: undefined; ret: Record<string, never> };
  'guest-exec': {
    args: { path: string; arg?: string[]; env?: string[]; 'input-data'?: string; 'capture-output'?: boolean | string };
    ret: { pid: number };
  };
  'guest-exec-status': { args: { pid: number }; ret: GuestExecStatus };
  'guest-file-open': { args: { path: string; mode?: string }; ret: number };
  'guest-file-close': { args: { handle: number }; ret: Record<string, never> };
  'guest-file-read': { args: { handle: number; count?: number }; ret: GuestFileRead };
  'guest-file-write': { args: { handle: number; 'buf-b64': string; count?: number }; ret: { count: number; eof: boolean } };
  'guest-file-flush': { args: { handle: number }; ret: Record<string, never> };
  'guest-network-get-interfaces': { args: undefined; ret: GuestNetworkInterface[] };
  'guest-get-osinfo': { args: undefined; ret: Record<string, string> };
  'guest-get-host-name': { args: undefined; ret: { 'host-name': string } };
  'guest-get-users': { args: undefined; ret: { user: string; domain?: string; 'login-time': number }[] };
  'guest-get-timezone': { args: undefined; ret: { zone?: string; offset: number } };
  'guest-get-fsinfo': { args: undefined; ret: unknown[] };
  'guest-get-disks': { args: undefined; ret: unknown[] };
  'guest-fsfreeze-status': { args: undefined; ret: 'thawed' | 'frozen' };
  'guest-fsfreeze-freeze': { args: undefined; ret: number };
  'guest-fsfreeze-freeze-list': { args: { mountpoints?: string[] } | undefined; ret: number };
  'guest-fsfreeze-thaw': { args: undefined; ret: number };
  'guest-fstrim': { args: { minimum?: number } | undefined; ret: unknown };
  'guest-set-user-password': { args: { username: string; password: string; crypted: boolean }; ret: Record<string, never> };
  // QEMU 10 and later: GuestLoadAverage.
  'guest-get-load': { args: undefined; ret: { load1m: number; load5m: number; load15m: number } };
}

const empty = anyObject;
const ipAddress = object({ 'ip-address-type': oneOf('ipv4', 'ipv6'), 'ip-address': str, prefix: int });

/**
 * What each typed reply's `return` must look like for qga-play to read it (the types above, as
 * checks): `call` refuses a reply of another shape as a failed step naming the command and what
 * was wrong. Members qga-play does not read are not checked; newer agents add members.
 */
export const REPLY_SHAPES = {
  'guest-ping': empty,
  'guest-sync': int,
  'guest-sync-delimited': int,
  'guest-info': object({ version: str, supported_commands: listOf(object({ name: str, enabled: bool })) }),
  'guest-get-time': int,
  'guest-set-time': empty,
  'guest-shutdown': empty,
  'guest-suspend-disk': empty,
  'guest-suspend-ram': empty,
  'guest-suspend-hybrid': empty,
  'guest-exec': object({ pid: int }),
  'guest-exec-status': object({
    exited: bool,
    exitcode: optional(int),
    signal: optional(int),
    'out-data': optional(str),
    'err-data': optional(str),
    'out-truncated': optional(bool),
    'err-truncated': optional(bool),
  }),
  'guest-file-open': int,
  'guest-file-close': empty,
  'guest-file-read': object({ count: int, 'buf-b64': str, eof: bool }),
  'guest-file-write': object({ count: int, eof: bool }),
  'guest-file-flush': empty,
  'guest-network-get-interfaces': listOf(object({ name: str, 'hardware-address': optional(str), 'ip-addresses': optional(listOf(ipAddress)) })),
  'guest-get-osinfo': anyObject,
  'guest-get-host-name': object({ 'host-name': str }),
  'guest-get-users': listOf(object({ user: str, domain: optional(str), 'login-time': num })),
  'guest-get-timezone': object({ zone: optional(str), offset: int }),
  'guest-get-fsinfo': anyList,
  'guest-get-disks': anyList,
  'guest-fsfreeze-status': oneOf('thawed', 'frozen'),
  'guest-fsfreeze-freeze': int,
  'guest-fsfreeze-freeze-list': int,
  'guest-fsfreeze-thaw': int,
  'guest-fstrim': anyObject,
  'guest-set-user-password': empty,
  'guest-get-load': object({ load1m: num, load5m: num, load15m: num }),
} satisfies Record<keyof QgaCommands, Shape>;

/** What is wrong with `value` as `command`'s return, or nothing. */
export function replyProblem(command: QgaCommandName, value: unknown): string | undefined {
  return REPLY_SHAPES[command](value, 'return');
}

/**
 * `command`'s result from its reply: an error reply becomes an AgentError, a return of another
 * shape a ProtocolError `REPLY_SHAPE` (the agent answered: the step fails, it is not unreachable).
 */
export function checkedReturn<C extends QgaCommandName>(command: C, reply: QgaReply): ReturnOf<C> {
  const value = unwrapReply(command, reply);
  const problem = replyProblem(command, value);
  if (problem !== undefined) throw new ProtocolError(`${command} answered a reply qga-play cannot read: ${problem}`, 'REPLY_SHAPE');
  return value as ReturnOf<C>;
}

/**
 * The commands of QEMU's qga/qapi-schema.json, typed above or not: an `agent` step naming
 * another is only warned about (newer agents add commands).
 */
export const KNOWN_COMMANDS: readonly string[] = [
  'guest-sync', 'guest-sync-delimited', 'guest-ping', 'guest-info', 'guest-get-time', 'guest-set-time',
  'guest-shutdown', 'guest-suspend-disk', 'guest-suspend-ram', 'guest-suspend-hybrid',
  'guest-file-open', 'guest-file-close', 'guest-file-read', 'guest-file-write', 'guest-file-seek', 'guest-file-flush',
  'guest-fsfreeze-status', 'guest-fsfreeze-freeze', 'guest-fsfreeze-freeze-list', 'guest-fsfreeze-thaw', 'guest-fstrim',
  'guest-network-get-interfaces', 'guest-network-get-route', 'guest-get-vcpus', 'guest-set-vcpus',
  'guest-get-memory-blocks', 'guest-set-memory-blocks', 'guest-get-memory-block-info', 'guest-get-disks',
  'guest-get-fsinfo', 'guest-get-diskstats', 'guest-get-cpustats', 'guest-get-load', 'guest-set-user-password',
  'guest-ssh-get-authorized-keys', 'guest-ssh-add-authorized-keys', 'guest-ssh-remove-authorized-keys',
  'guest-get-host-name', 'guest-get-users', 'guest-get-timezone', 'guest-get-osinfo', 'guest-get-devices',
  'guest-exec', 'guest-exec-status',
];

export type QgaCommandName = keyof QgaCommands;
export type ArgsOf<C extends QgaCommandName> = QgaCommands[C]['args'];
export type ReturnOf<C extends QgaCommandName> = QgaCommands[C]['ret'];

/** Commands that send no reply when they succeed (the guest goes away instead). */
export const NO_REPLY_COMMANDS: ReadonlySet<string> = new Set([
  'guest-shutdown',
  'guest-suspend-disk',
  'guest-suspend-ram',
  'guest-suspend-hybrid',
]);

/**
 * Commands that change the machine the agent runs on. A qemu-ga started on the host (for tests
 * and benchmarks) must block all of them with `-b`.
 */
export const HOST_CHANGING_COMMANDS: readonly string[] = [
  'guest-set-time',
  'guest-shutdown',
  'guest-suspend-disk',
  'guest-suspend-ram',
  'guest-suspend-hybrid',
  'guest-fsfreeze-freeze',
  'guest-fsfreeze-freeze-list',
  'guest-fsfreeze-thaw',
  'guest-fstrim',
  'guest-set-user-password',
  'guest-set-vcpus',
  'guest-set-memory-blocks',
  'guest-ssh-add-authorized-keys',
  'guest-ssh-remove-authorized-keys',
];

export function expectsNoReply(command: string): boolean {
  return NO_REPLY_COMMANDS.has(command);
}

/**
 * Commands that change nothing in the guest, so that sending one again after its fate is
 * unknown (the virsh session carrying it died) is harmless. guest-exec-status reaps an exited
 * process and guest-file-read moves the file position: not these.
 */
const RESEND_SAFE_COMMANDS: ReadonlySet<string> = new Set([
  'guest-ping',
  'guest-info',
  'guest-get-time',
  'guest-network-get-interfaces',
  'guest-get-osinfo',
  'guest-get-host-name',
  'guest-get-users',
  'guest-get-timezone',
  'guest-get-fsinfo',
  'guest-get-disks',
  'guest-fsfreeze-status',
  'guest-get-vcpus',
  'guest-get-load',
]);

export function isResendSafe(command: string): boolean {
  return RESEND_SAFE_COMMANDS.has(command);
}
