/**
 * Puts rendered lines on the terminal: switches to the alternate screen
 * (the user's scrollback is left untouched and restored on exit), redraws
 * only the lines that changed since the last frame, and places the cursor
 * in the input line. Lines arrive already exactly as wide as the terminal
 * by our count; a terminal may count some emoji wider (👋🏽: 2 columns here,
 * 4 in tmux), so autowrap is off while the screen is up (text past the
 * right edge is clipped instead of wrapping onto the next row) and each
 * changed row is erased before it is written.
 */

export class Screen {
  private prev: string[] = [];

  constructor(private readonly write: (text: string) => void) {}

  /** Alternate screen, bracketed paste on, autowrap off, cleared. */
  enter(): void {
    this.write("\x1b[?1049h\x1b[?2004h\x1b[?7l\x1b[H\x1b[2J");
    this.prev = [];
  }

  /** Back to the normal screen with the cursor visible, autowrap on and paste mode off. */
  leave(): void {
    this.write("\x1b[0m\x1b[?7h\x1b[?2004l\x1b[?25h\x1b[?1049l");
  }

  /** Forgets what is on the screen, so the next draw repaints everything (resize, Ctrl-L). */
  invalidate(): void {
    this.prev = [];
    this.write("\x1b[0m\x1b[H\x1b[2J");
  }

  draw(lines: string[], cursor: { row: number; col: number }): void {
    let out = "\x1b[?25l";
    for (let i = 0; i < lines.length; i++) {
      if (lines[i] === this.prev[i]) continue;
      out += `\x1b[${i + 1};1H\x1b[2K${lines[i]}\x1b[0m`;
    }
    out += `\x1b[${cursor.row + 1};${cursor.col + 1}H\x1b[?25h`;
    this.prev = lines.slice();
    this.write(out);
  }
}
