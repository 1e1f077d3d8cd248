// The signing screens' strings in Simplified Chinese; `signing.en.ts` has the same keys.

export const signingZh = {
  'signing.title': '签署协议',
} as const;
