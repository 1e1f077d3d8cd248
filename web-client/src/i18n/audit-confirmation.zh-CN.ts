// The case trail's words for the judicial confirmation steps (audit actions `confirmation.*`,
// cases/src/store/vocabulary.rs); `audit-confirmation.en.ts` has the same keys.

export const auditConfirmationZh = {
  'audit.confirmation.applied': '申请司法确认',
  'audit.confirmation.court_changed': '变更受理法院',
  'audit.confirmation.submitted': '各方均已申请，材料已提交法院',
  'audit.confirmation.received': '法院已收到申请',
  'audit.confirmation.delivered': '材料已送达法院系统',
  'audit.confirmation.accepted': '法院已受理',
  'audit.confirmation.extended': '法院延长审查期限',
  'audit.confirmation.confirmed': '法院裁定确认协议有效',
  'audit.confirmation.rejected': '法院裁定驳回申请',
  'audit.confirmation.package_downloaded': '下载司法确认材料包',
  'audit.confirmation.callback_refused': '拒收未通过验证的法院系统回执',
} as const;
