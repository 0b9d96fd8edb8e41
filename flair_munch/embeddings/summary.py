"""What a build produced: the content of ``build.json`` as a dataclass."""

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BUILD_JSON = "build.json"


@dataclass
class BuildSummary:
    """Settings, inputs, sizes, quality and timings of one embeddings build.

    Kept next to the vectors as ``build.json`` so a result can always be traced back to
    the exact data and settings that produced it.
    """

    out_dir: str
    settings: dict[str, Any]
    inputs: list[dict[str, Any]]
    files: dict[str, int]
    vocab_size: int
    char_dictionary_size: int
    word_vectors: dict[str, Any]
    lm_text: dict[str, Any]
    lm: dict[str, dict[str, Any]]
    seconds: dict[str, float]
    versions: dict[str, str]
    created: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def embedding_length(self) -> int:
        """Length of the stacked (word + all LM directions) token vector."""
        return int(self.settings["word_dim"]) + int(self.settings["lm_hidden"]) * len(self.lm)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, folder: Path) -> Path:
        path = Path(folder) / BUILD_JSON
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, folder: Path) -> "BuildSummary":
        """Reads ``build.json`` from a built embeddings folder."""
        data = json.loads((Path(folder) / BUILD_JSON).read_text(encoding="utf-8"))
        known = {key: data[key] for key in cls.__dataclass_fields__ if key in data}
        return cls(**known)

    def format(self) -> str:
        """A short size / quality table for logs and the CLI."""
        rows = [f"Embeddings in {self.out_dir}", f"{'file':<28}{'size':>10}"]
        rows += [f"{name:<28}{size / 2**20:>8.2f} MB" for name, size in sorted(self.files.items())]
        rows.append(
            f"word vectors: {self.vocab_size} words x {self.settings['word_dim']} dims "
            f"({self.seconds.get('word_vectors', 0):.0f} s)"
        )
        rows.append(f"char dictionary: {self.char_dictionary_size} symbols; LM text: "
                    f"{self.lm_text.get('train_chars', 0) / 1e6:.2f} M train chars"
                    f"{' (sampled)' if self.lm_text.get('sampled') else ''}")
        rows.append(f"{'char LM':<12}{'valid ppl':>10}{'test ppl':>10}{'seconds':>10}")
        for direction, stats in self.lm.items():
            rows.append(
                f"{direction:<12}{stats['valid_perplexity']:>10.3f}{stats['test_perplexity']:>10.3f}"
                f"{self.seconds.get('lm_' + direction, 0):>10.0f}"
            )
        rows.append(f"embedding length (stacked): {self.embedding_length}; total {self.seconds.get('total', 0):.0f} s")
        return "\n".join(rows)
