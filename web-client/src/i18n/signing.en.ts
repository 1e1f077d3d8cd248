import type { signingZh } from './signing.zh-CN';

// The signing screens' strings in English; keys match `signing.zh-CN.ts` exactly.
export const signingEn: Record<keyof typeof signingZh, string> = {
  'signing.title': 'Sign the agreement',
};
