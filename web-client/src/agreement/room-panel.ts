// The agreement in the live session: a side panel on desktops, a full-height sheet on phones.
// Drafts follow over the session's socket (draft_* frames); the agreement's state is fetched
// over HTTP with the join token on every `agreement_changed`. A mediator edits (and creates,
// finalises, keeps private drafts) with their staff sign-in of this browser; everyone else
// reads live and comments.

import { language, t } from '../i18n';
import { readClaims } from '../link';
import type { Room } from '../room/room';
import { h } from '../screens/dom';
import type { ServerMessage } from '../signal/messages';
import { mountSigning } from '../signing';
import { ConfirmationApi } from '../confirmation/api';
import { ApplyFlow } from '../confirmation/apply-flow';
import { browserClient, type CaseDetail, type StaffClient } from '../staff/api';
import { type Agreement, AgreementApi, errorStatus, staffCall, tokenCall } from './api';
import { createForm } from './create';
import { LiveView } from './live-view';
import { AgreementModel } from './model';
import { type DraftSource, socketSource } from './source';
import { problemText } from './status';
import { DraftSync, type DraftInFrame } from './sync';
import { setAgreementTestState, snapshotOf } from './test-state';
import { AgreementWorkspace } from './workspace';

const DRAFT_FRAMES = new Set(['draft_state', 'draft_ack', 'draft_changed', 'error']);
/** Comments awaiting the server's relay, at most (each send is one tap). */
const MAX_PENDING_COMMENTS = 8;

export class AgreementPanel {
  readonly el: HTMLElement;
  private readonly content = h('div', { class: 'agreement-content' });
  private readonly notice = h('p', { class: 'ag-notice', role: 'status', hidden: true, 'data-testid': 'agreement-panel-notice' });
  private readonly signingSlot = h('div', { class: 'ag-signing', 'data-testid': 'agreement-signing' });
  private readonly model: AgreementModel;
  private readonly syncs = new Set<DraftSync>();
  private readonly comments = new Map<string, { clauseId: string; text: string; resolve: () => void; reject: (error: Error) => void }>();
  private workspace: AgreementWorkspace | null = null;
  private live: LiveView | null = null;
  private unmountSigning: (() => void) | null = null;
  private confirmation: ApplyFlow | null = null;
  private signingContext: { agreement: Agreement } | null = null;
  private readonly offs: (() => void)[] = [];
  private readonly caseId: string | null;
  private readonly staff: StaffClient;
  private readonly staffApi: AgreementApi;
  private isOpen = false;
  /** Something changed while the panel was closed: the button says so. */
  unseen = false;

  constructor(
    private readonly room: Room,
    private readonly token: string,
    phone: boolean,
    /** The open/closed state or the "something new" mark changed: redraw the button. */
    private readonly onChange: () => void,
  ) {
    // On a phone the panel is a full-height sheet over the video, with large text.
    this.el = h('aside', { class: `side-panel agreement-panel${phone ? ' phone' : ''}`, hidden: true, 'data-testid': 'agreement-panel' });
    const claims = readClaims(token);
    this.caseId = claims?.case ?? null;
    const roomApi = new AgreementApi(tokenCall(token));
    this.staff = browserClient();
    this.staffApi = new AgreementApi(staffCall(this.staff));
    this.model = new AgreementModel(room.moderator ? this.staffApi : roomApi, () => roomApi.ofRoom());
    this.offs.push(
      room.engine.on('message', (message) => this.onMessage(message)),
      room.engine.on('joined', () => {
        // A new socket: every draft asks again for what it lacks and resends what the server lacks.
        for (const sync of this.syncs) sync.open();
        for (const pending of this.comments.values()) pending.reject(new Error('network'));
        this.comments.clear();
        void this.refresh();
      }),
      this.model.on('agreement', (agreement) => this.onAgreement(agreement)),
    );
    this.el.append(
      h('header', { class: 'panel-head' }, [
        h('h2', { text: t('agreement.title') }),
        h('button', { type: 'button', class: 'panel-close', 'data-testid': 'agreement-close', text: t('chat.close'), onclick: () => this.setOpen(false) }),
      ]),
      this.notice,
      this.content,
    );
    setAgreementTestState(() => snapshotOf(this.model, this.openDrafts(), this.workspace?.currentDoc ?? 'main'));
    if (room.session !== null && this.caseId) void this.refresh();
  }

  get opened(): boolean {
    return this.isOpen;
  }

  /** Whether there is anything to open: an agreement, or a mediator who may start one. */
  get available(): boolean {
    return this.room.session !== null && this.caseId !== null && (this.room.moderator || this.model.agreement !== null);
  }

  setOpen(open: boolean): void {
    this.isOpen = open;
    this.el.hidden = !open;
    if (open) this.unseen = false;
    this.onChange();
  }

  /** Redraws every text after a language change; open drafts and their pending edits stay. */
  render(): void {
    this.el.querySelector('h2')?.replaceChildren(t('agreement.title'));
    this.el.querySelector('.panel-close')?.replaceChildren(t('chat.close'));
    if (this.workspace) this.workspace.render();
    else if (this.live) this.live.render();
    else this.onAgreement(this.model.agreement);
    this.confirmation?.render();
  }

  dispose(): void {
    for (const off of this.offs.splice(0)) off();
    this.unmountSigning?.();
    this.confirmation?.dispose();
    this.workspace?.dispose();
    this.live?.dispose();
    this.model.dispose();
    setAgreementTestState(null);
  }

  private refresh(): Promise<void> {
    return this.model.refresh().catch((error: unknown) => this.say(problemText(error)));
  }

  private say(text: string): void {
    this.notice.hidden = !text;
    this.notice.textContent = text;
  }

  private openDrafts(): Map<string, DraftSource> {
    return this.workspace?.openDrafts() ?? this.live?.openDrafts() ?? new Map();
  }

  private open(docName: string): DraftSource {
    const agreement = this.model.agreement;
    const sync = new DraftSync(agreement?.id ?? '', docName, (frame) => this.room.engine.send(frame));
    this.syncs.add(sync);
    sync.on('changed', ({ clauses }) => {
      this.model.flash(clauses);
      if (!this.isOpen) {
        this.unseen = true;
        this.onChange();
      }
    });
    sync.open();
    return socketSource(sync, () => {
      sync.dispose();
      this.syncs.delete(sync);
    });
  }

  private onMessage(message: ServerMessage): void {
    const agreement = this.model.agreement;
    switch (message.type) {
      case 'agreement_changed':
        if (!this.isOpen) this.unseen = true;
        void this.refresh().then(() => this.onChange());
        void this.confirmation?.refresh();
        return;
      case 'draft_typing':
        if (agreement && message.agreement_id === agreement.id && message.participant_id !== this.room.self?.id) {
          this.model.noteTyping(message.doc, message.clause_id, message.name);
        }
        return;
      case 'draft_comment': {
        this.model.addComment(message.comment);
        for (const [id, pending] of this.comments) {
          if (pending.clauseId === message.comment.clause_id && pending.text === message.comment.text) {
            this.comments.delete(id);
            pending.resolve();
            break;
          }
        }
        return;
      }
      default:
        break;
    }
    if (!DRAFT_FRAMES.has(message.type)) return;
    if (message.type === 'error' && message.request_id && this.comments.has(message.request_id)) {
      this.comments.get(message.request_id)?.reject(new Error(message.code));
      this.comments.delete(message.request_id);
      return;
    }
    for (const sync of this.syncs) if (sync.receive(message as DraftInFrame)) return;
  }

  private comment(clauseId: string, text: string): Promise<void> {
    const agreement = this.model.agreement;
    if (!agreement) return Promise.reject(new Error('not_found'));
    if (this.comments.size >= MAX_PENDING_COMMENTS) return Promise.reject(new Error('rate_limited'));
    return new Promise((resolve, reject) => {
      const id = this.room.engine.send({ type: 'draft_comment', agreement_id: agreement.id, clause_id: clauseId, text });
      if (id === null) reject(new Error('network'));
      else this.comments.set(id, { clauseId, text, resolve, reject });
    });
  }

  private onAgreement(agreement: Agreement | null): void {
    this.onChange();
    if (!agreement) {
      this.workspace?.dispose();
      this.live?.dispose();
      this.workspace = null;
      this.live = null;
      if (this.room.moderator) void this.showCreate();
      else this.content.replaceChildren(h('p', { class: 'muted', text: t('agreement.none') }));
      return;
    }
    if (this.room.moderator) {
      if (!this.workspace) {
        this.workspace = new AgreementWorkspace({ model: this.model, open: (doc) => this.open(doc), privateDrafts: true, signingSlot: this.signingSlot });
        this.content.replaceChildren(this.workspace.el);
      }
    } else if (!this.live) {
      this.live = new LiveView({ model: this.model, open: (doc) => this.open(doc), comment: (clauseId, text) => this.comment(clauseId, text), signingSlot: this.signingSlot, side: () => this.room.self?.side ?? null });
      this.content.replaceChildren(this.live.el);
    }
    this.mountSigning(agreement);
    this.mountConfirmation(agreement);
  }

  /** W2's signing flow, once there is a final text to sign. */
  private mountSigning(agreement: Agreement): void {
    if (agreement.status === 'drafting') {
      this.unmountSigning?.();
      this.unmountSigning = null;
      this.signingContext = null;
      return;
    }
    if (this.signingContext) {
      this.signingContext.agreement = agreement;
      return;
    }
    const self = this.room.self;
    const claims = readClaims(this.token);
    const isStaff = this.room.moderator;
    const context = {
      apiBase: '',
      authHeader: () => (isStaff ? this.staff.authorization() : `Bearer ${this.token}`),
      agreement,
      me: { kind: isStaff ? ('staff' as const) : ('party' as const), id: self?.identity ?? claims?.sub ?? '', role: isStaff ? 'mediator' : self?.kind ?? 'party' },
      room: this.room,
      refresh: async () => {
        await this.model.refresh();
      },
    };
    this.signingContext = context;
    this.unmountSigning = mountSigning(this.signingSlot, context);
  }

  /** W1's application for judicial confirmation, under the signing once the agreement is in force. */
  private mountConfirmation(agreement: Agreement): void {
    if (agreement.status !== 'in_force' || this.confirmation) return;
    const api = this.room.moderator ? ConfirmationApi.forStaff(this.staff) : ConfirmationApi.forToken(this.token);
    this.confirmation = new ApplyFlow({ api, agreementId: agreement.id, phone: this.el.classList.contains('phone'), pollMs: 30_000 });
    this.signingSlot.append(this.confirmation.el);
    void this.confirmation.refresh();
  }

  /** The mediator's "起草协议", with the case's category from the staff API. */
  private async showCreate(): Promise<void> {
    const caseId = this.caseId;
    if (!caseId) return;
    this.content.replaceChildren(h('p', { class: 'muted', text: t('agreement.loading') }));
    try {
      const signedIn = await browserClient().resume();
      if (!signedIn) {
        this.content.replaceChildren(h('p', { class: 'problem-text', 'data-testid': 'agreement-sign-in', text: t('agreement.signInNeeded') }));
        return;
      }
      const detail = await browserClient().call<CaseDetail>('GET', `/api/v1/cases/${encodeURIComponent(caseId)}`);
      if (this.model.agreement) return;
      this.content.replaceChildren(
        createForm({
          api: this.staffApi,
          caseId,
          category: detail.case.category,
          locale: language(),
          onCreated: (agreement) => {
            this.model.agreement = agreement;
            void this.refresh();
          },
        }),
      );
    } catch (error) {
      this.content.replaceChildren(h('p', { class: 'problem-text', role: 'alert', text: errorStatus(error) === 401 ? t('agreement.signInNeeded') : problemText(error) }));
    }
  }
}
