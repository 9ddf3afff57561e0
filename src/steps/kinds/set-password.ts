import { SecretValue } from '../../playbook/secret.js';
import type { Secret } from '../../playbook/types.js';
import { defineKind, isMap, reveal } from '../kind.js';

/** guest-set-user-password; the password is a secret and never leaves this call. */
export const setPassword = defineKind({
  kind: 'set-password',
  schema: {
    description: 'guest-set-user-password. The password is always treated as secret. Result: {user}.',
    type: 'object',
    additionalProperties: false,
    required: ['user', 'password'],
    properties: {
      user: { type: 'string', minLength: 1 },
      password: { $ref: '#/definitions/secretString' },
      crypted: { description: 'The password is already crypted. Default: false.', type: 'boolean', default: false },
    },
  },
  // A password is a secret whether or not the playbook said so.
  normalise: (w): { user: string; password: string | Secret; crypted: boolean } => {
    const value = isMap(w.password) ? w.password.value : w.password;
    return { user: String(w.user), password: new SecretValue(String(value)), crypted: w.crypted === true };
  },
  commands: () => ['guest-set-user-password'],
  async run(params, ctx) {
    const password = Buffer.from(reveal(params.password), 'utf8').toString('base64');
    await ctx.call('guest-set-user-password', { username: params.user, password, crypted: params.crypted }, { sensitive: true });
    return { user: params.user };
  },
});
