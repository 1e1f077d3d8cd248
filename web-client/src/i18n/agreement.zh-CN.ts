// The agreement screens' strings in Simplified Chinese; `agreement.en.ts` has the same keys.

export const agreementZh = {
  'agreement.title': '调解协议',
} as const;
