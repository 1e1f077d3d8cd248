import type { agreementZh } from './agreement.zh-CN';

// The agreement screens' strings in English; keys match `agreement.zh-CN.ts` exactly.
export const agreementEn: Record<keyof typeof agreementZh, string> = {
  'agreement.title': 'Mediation agreement',
};
