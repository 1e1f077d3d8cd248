// The public verification page's strings (/v/<sha256>): what anyone who scans an agreement's
// QR code reads.
export const verifyZh = {
  'verify.title': '调解协议核验',
  'verify.hash': '协议文本的 SHA-256：',
  'verify.checking': '正在核验……',
  'verify.genuine': '✓ 真实：本平台登记有与此文本完全一致的调解协议。',
  'verify.notGenuine': '✗ 未找到：本平台没有与此文本一致的调解协议。协议可能被改动过，或二维码不是本平台出具的。',
  'verify.badHash': '这个地址不是有效的核验地址，请重新扫描协议上的二维码。',
  'verify.busy': '查询过于频繁，请稍后再试。',
  'verify.organisation': '调解组织：{organisation}',
  'verify.status': '状态：{status}',
  'verify.status.in_force': '已生效',
  'verify.status.final': '已定稿，尚未生效',
  'verify.status.superseded': '已被新版本取代（此版本无效）',
  'verify.effective': '生效时间：{time}',
  'verify.signers': '签署情况',
  'verify.role.party': '当事人',
  'verify.role.representative': '委托代理人',
  'verify.role.mediator': '调解员',
  'verify.signedAt': '{name}（{role}）于 {time} 签署',
  'verify.privacy': '本页只显示协议是否真实、由谁在何时签署及其状态，不显示协议内容；姓名已部分隐去。',
};
