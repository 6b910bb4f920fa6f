/** What every page gets, and the pieces pages share: admin action buttons, status line, paging, live refresh. */
import { ApiError } from './api.js';
import { confirmAction, h } from './dom.js';

export interface Ctx {
  /** The key may take admin actions (buttons are drawn only then; the API refuses them otherwise anyway). */
  admin: boolean;
  main: HTMLElement;
  /** Aborted when the person leaves the page: streams and timers stop. */
  signal: AbortSignal;
  /** Says something to screen readers and sighted people alike (the page's live region). */
  announce(message: string, error?: boolean): void;
}

/** An admin action: asks, naming what it will do, then calls the API, announces the answer and redraws. */
export function actionButton(
  ctx: Ctx,
  label: string,
  what: string | (() => string),
  run: () => Promise<unknown>,
  after: () => unknown,
  /** A shorter visible text; `label` is then the accessible name (it says which item it acts on). */
  text?: string,
): HTMLButtonElement | null {
  if (!ctx.admin) return null;
  return h(
    'button',
    {
      type: 'button',
      class: 'action',
      'aria-label': text === undefined ? undefined : label,
      onclick: () => {
        const text = typeof what === 'function' ? what() : what;
        const act = async () => {
          if (!(await confirmAction(text))) return;
          try {
            const said = await run();
            ctx.announce(typeof said === 'string' ? said : `Done: ${text}`);
          } catch (err) {
            ctx.announce(`Failed: ${text} (${errorText(err)})`, true);
          }
          await after();
        };
        void act();
      },
    },
    text ?? label,
  );
}

export function errorText(err: unknown): string {
  if (err instanceof ApiError) return err.status === 404 ? 'not available on this supervisor (404)' : err.message;
  return err instanceof Error ? err.message : String(err);
}

/** Runs `tick` now and then every `ms` until the page is left; errors are announced, not thrown. */
export function every(ctx: Ctx, ms: number, tick: () => Promise<void>): void {
  let timer: number | undefined;
  const run = async () => {
    try {
      await tick();
    } catch (err) {
      if (!ctx.signal.aborted) ctx.announce(errorText(err), true);
    }
    if (!ctx.signal.aborted) timer = window.setTimeout(() => void run(), ms);
  };
  ctx.signal.addEventListener('abort', () => window.clearTimeout(timer));
  void run();
}

/**
 * Orders a page's loads: `begin()` at the start of a load returns whether that load is still the newest when its
 * answer arrives. A refresh that answers after a click on Next (or a new filter) is dropped, not drawn over it.
 */
export class Newest {
  private started = 0;

  begin(): () => boolean {
    const mine = ++this.started;
    return () => mine === this.started;
  }
}

/** From this many rows a table is taller than a laptop's screen: its pager is repeated above it. */
export const LONG_TABLE = 20;

/** Keyset paging: the cursors of the pages before, so Previous works without the server keeping any. */
export class Pager {
  private readonly stack: Array<string | undefined> = [undefined];
  next: string | undefined;

  get cursor(): string | undefined {
    return this.stack[this.stack.length - 1];
  }

  /**
   * Previous and Next, with the page number. A long table gets a pager above it as well as below (`where`); each
   * pager's buttons keep their own key, so a redraw gives focus back to the one that had it.
   */
  controls(reload: () => void, where: 'above' | 'below' = 'below'): HTMLElement {
    const button = (name: string, disabled: boolean, onclick: () => void) =>
      h('button', { type: 'button', disabled, 'data-key': `pager-${where}-${name}`, onclick }, name);
    const prev = button('Previous page', this.stack.length < 2, () => {
      this.stack.pop();
      reload();
    });
    const next = button('Next page', this.next === undefined, () => {
      this.stack.push(this.next);
      reload();
    });
    return h(
      'nav',
      { class: `pager pager-${where}`, 'aria-label': `pages, ${where} the list` },
      prev,
      ` page ${this.stack.length} `,
      next,
    );
  }

  /** The pagers around a table: above it too once it is long (LONG_TABLE rows), always below. */
  around(reload: () => void, rows: number, content: HTMLElement): HTMLElement[] {
    const above = rows >= LONG_TABLE ? [this.controls(reload, 'above')] : [];
    return [...above, content, this.controls(reload, 'below')];
  }

  reset(): void {
    this.stack.splice(1);
  }
}

export function filterForm(
  fields: Array<{ name: string; label: string; options?: readonly string[] }>,
  onChange: (values: Record<string, string>) => void,
): HTMLFormElement {
  const form = h('form', { class: 'filters', role: 'search' });
  for (const f of fields) {
    const id = `filter-${f.name}`;
    const input = f.options
      ? h(
          'select',
          { id, name: f.name },
          h('option', { value: '' }, 'any'),
          ...f.options.map((o) => h('option', { value: o }, o)),
        )
      : h('input', { id, name: f.name, type: 'text', autocomplete: 'off' });
    form.append(h('label', { for: id }, f.label), input);
  }
  form.append(h('button', { type: 'submit' }, 'Apply'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const values: Record<string, string> = {};
    new FormData(form).forEach((v, k) => (values[k] = typeof v === 'string' ? v : v.name));
    onChange(values);
  });
  return form;
}
