"""The driver's one progress bar over a study's runs: done / running / waiting, and which runs run now."""

import logging
import sys

from tqdm import tqdm

log = logging.getLogger("flair_munch")


class StudyProgress:
    """A tqdm bar over the jobs left (runs, and the SingleAux runs and store builds they need).

    Without a terminal (or ``enabled=False``) it logs one line per change instead of drawing a bar.
    """

    def __init__(self, total: int, enabled: bool = True) -> None:
        self.total = total
        self.done = 0
        self.running: list[str] = []
        self.bar = tqdm(total=total, desc="study", unit="job", dynamic_ncols=True, file=sys.stderr,
                        disable=not enabled or total == 0)
        self._last = ""

    def update(self, done: int, running: list[str]) -> None:
        """``done`` jobs finished; ``running`` are the labels of the jobs running now."""
        if done > self.done:
            self.bar.update(done - self.done)
            self.done = done
        self.running = list(running)
        waiting = self.total - self.done - len(self.running)
        shown = ", ".join(self.running[:4]) + (f" +{len(self.running) - 4}" if len(self.running) > 4 else "")
        text = f"running {len(self.running)} [{shown}] waiting {max(waiting, 0)}"
        if text != self._last:
            self._last = text
            self.bar.set_postfix_str(text, refresh=True)
            if self.bar.disable and self.total:
                log.info("study: %d/%d done, %s", self.done, self.total, text)

    def close(self) -> None:
        self.bar.close()
