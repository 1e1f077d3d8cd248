// The court's view of confirmation requests, as the server sends it (see the API contract of
// issue 16: InboxItem, CourtRequest, IndexRow). Times are Unix ms.

/** A request's place in the court's work, in the order it moves. */
export type RequestStatus = 'applying' | 'submitted' | 'received' | 'accepted' | 'confirmed' | 'rejected';

/** The inbox's tabs: waiting for the court, decided, everything. */
export type InboxState = 'open' | 'decided' | 'all';

/** One row of the court's inbox. */
export interface InboxItem {
  id: string;
  case_id: string;
  case_number: string;
  case_title: string;
  category: string;
  organisation: string;
  court: string | null;
  status: RequestStatus;
  submitted_at: number | null;
  received_at: number | null;
  accepted_at: number | null;
  accept_due_at: number | null;
  ruling_due_at: number | null;
  extended: boolean;
  overdue: boolean;
  /** Whole Beijing days left on the running clock (the deadline day counts as 1). */
  days_left: number | null;
  court_case_number: string | null;
}

/** One of the materials 第三条 asks for, and the package files that answer it. */
export interface IndexRow {
  item: 'application' | 'agreement' | 'identity' | 'property' | 'contact' | 'attorney' | 'organisation' | 'process' | 'other';
  label: string;
  required: boolean;
  present: boolean;
  files: string[];
  note: string;
}

export interface PackageFile {
  path: string;
  sha256: string;
  size: number;
  kind: string;
  title: string;
}

export interface Decision {
  court_case_number: string | null;
  decided_at: number | null;
  ruling_number: string | null;
  ruling_date: string | null;
  has_ruling: boolean;
  reject_reasons: string | null;
}

/** A request as the court reviews it. */
export interface CourtRequest extends InboxItem {
  applicants: { name: string; side: string; applied_at: number; applied_by_name: string }[];
  agreement: { id: string; version: number; text_sha256: string; effective_at: number | null };
  /** Null only while the package is not built (a request the court sees is always submitted). */
  package: { sha256: string; size: number; files: PackageFile[]; index: IndexRow[] } | null;
  recordings: { id: string; session_id: string; started_at: number; ended_at: number | null; status: string }[];
  decision: Decision | null;
  extension_reason: string | null;
}

/** Statuses in which the court still has something to decide. */
export const OPEN_STATUSES: readonly RequestStatus[] = ['submitted', 'received', 'accepted'];
