// The Agreement JSON the server returns for GET /cases/{id}/agreement and every agreement
// mutation (docs: the common brief's "HTTP API"). Only what the signing screens read is typed
// strictly; the rest is carried as given.

export type AgreementStatus = 'drafting' | 'final' | 'in_force';
export type SignerStatus = 'pending' | 'signed' | 'declined';
export type SignerRole = 'party' | 'representative' | 'mediator';

export interface SignerIdentity {
  method: 'otp' | 'attestation' | 'staff';
  at: number;
}

export interface FreeWill {
  answer: 'yes' | 'no';
  at: number;
  recording_id: string | null;
  recording_offset_ms: number | null;
}

export interface Signer {
  /** `PT_…` for parties and representatives, `ST_…` for the mediator. */
  signer_id: string;
  name: string;
  role: SignerRole;
  side: 'applicant' | 'respondent' | null;
  /** For a representative: the party (`PT_…`) they sign for. */
  represents: string | null;
  /** That party's name (asked of V2 in requests.md: the party is no signer row of its own). */
  represents_name?: string | null;
  required: boolean;
  may_sign: boolean;
  cannot_sign_reason: string | null;
  status: SignerStatus;
  signed_at: number | null;
  declined_reason: string | null;
  identity: SignerIdentity | null;
  free_will: FreeWill | null;
  /**
   * When the mediator attested this signer on camera for this version (asked of V2 in
   * requests.md); absent from a server that does not say, and then both ways are offered.
   */
  attested_at?: number | null;
}

export interface FinalVersion {
  version: number;
  text: string;
  text_sha256: string;
  finalised_at: number;
  finalised_by_name: string;
}

export interface Agreement {
  id: string;
  case_id: string;
  locale: 'zh-CN' | 'en';
  status: AgreementStatus;
  version: number;
  e_signable: boolean;
  not_e_signable_reason: string | null;
  final: FinalVersion | null;
  effective_at: number | null;
  signers: Signer[];
  seal: { key_id: string; sealed_at: number; platform_key_id: string } | null;
  pdf_url: string | null;
  private_drafts: { doc: string; shown_to: 'applicant' | 'respondent' | null; created_at: number }[];
  updated_at: number;
}

/** Who is looking: a party's join token (`PT_…`) or a staff member (`ST_…`). */
export interface Viewer {
  kind: 'party' | 'staff';
  id: string;
  role: string;
}
