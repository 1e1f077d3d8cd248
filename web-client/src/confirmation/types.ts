// The judicial confirmation's JSON as the server sends it (common brief, "JSON shapes"). The
// screens read these and nothing else, so a change of the contract shows up here first.

export type RequestStatus = 'applying' | 'submitted' | 'received' | 'accepted' | 'confirmed' | 'rejected';
export type WarningLevel = '7_days' | '2_days';
export type NextStep = 'amend' | 'new_agreement' | 'litigation';
export type CourtBasis = 'inviting_court' | 'organisation_seat';

/** The 30-day application window (人民调解法 第三十三条), counted in Beijing calendar days. */
export interface ConfirmationWindow {
  effective_at: number;
  deadline_at: number;
  days_left: number;
  warning: WarningLevel | null;
  closed: boolean;
}

export interface CourtChoice {
  proposed: string | null;
  basis: CourtBasis | null;
  chosen: string | null;
  reason: string | null;
  changed_by_name: string | null;
  venue_note: string;
  may_change: boolean;
}

export interface ApplicantState {
  party_id: string;
  name: string;
  side: string;
  applied: boolean;
  applied_at: number | null;
  applied_by_name: string | null;
  may_apply: boolean;
  cannot_apply_reason: string | null;
  /** How many proofs of identity this party has uploaded (all parties' counts, for everyone). */
  identity_proofs: number;
}

/** What a proof of identity shows: 身份证人像面, 身份证国徽面, or another document. */
export type IdentityProofKind = 'id_card_front' | 'id_card_back' | 'other';

/** An uploaded proof of identity, without its bytes (fetched on their own, with credentials). */
export interface IdentityProofView {
  id: string;
  party_id: string;
  kind: IdentityProofKind;
  media_type: string;
  /** Bytes of the file as uploaded. */
  size: number;
  created_at: number;
  /** False once the request is submitted, or when this viewer may not remove it. */
  may_remove: boolean;
}

/** The court's own clocks (法释〔2011〕5号 第四、五条). */
export interface CourtClocks {
  submitted_at: number | null;
  received_at: number | null;
  accepted_at: number | null;
  accept_due_at: number | null;
  ruling_due_at: number | null;
  extended: boolean;
  extension_reason: string | null;
  overdue: boolean;
}

export interface Decision {
  court_case_number: string | null;
  decided_at: number | null;
  ruling_number: string | null;
  ruling_date: string | null;
  has_ruling: boolean;
  reject_reasons: string | null;
}

export interface Delivery {
  court_system: true;
  state: 'pending' | 'delivered' | 'retrying' | 'given_up';
  attempts: number;
  last_error: string | null;
  delivered_at: number | null;
}

export interface Viewer {
  kind: 'party' | 'staff' | 'court';
  may_apply: boolean;
  applied: boolean;
  /** The parties this viewer may apply for: themselves, or those they represent with a POA. */
  for_party_ids: string[];
}

export interface ConfirmationView {
  agreement_id: string;
  case_id: string;
  case_number: string;
  request_id: string | null;
  confirmable: boolean;
  blocked: null | 'agreement_not_in_force' | 'not_confirmable';
  window: ConfirmationWindow | null;
  court: CourtChoice;
  applicants: ApplicantState[];
  status: RequestStatus | null;
  clocks: CourtClocks | null;
  decision: Decision | null;
  next_steps: NextStep[];
  package: { sha256: string; size: number } | null;
  application_pdf: boolean;
  delivery: Delivery | null;
  /** Staff and court users see every party's; a party their own and those they represent. */
  identity_proofs: IdentityProofView[];
  me: Viewer;
}

export interface ApplyBody {
  party_id?: string;
  address: string;
  declarations: true;
}

export interface ConfirmationLink {
  party_id: string;
  name: string;
  phone_masked: string | null;
  link: string;
  text: string;
  sent: boolean;
  send_error: string | null;
}

/** The badge data a case list item may carry (requested from E1 for GET /api/v1/cases). */
export interface ConfirmationBadge {
  status: RequestStatus | null;
  days_left: number | null;
  warning: WarningLevel | null;
}
