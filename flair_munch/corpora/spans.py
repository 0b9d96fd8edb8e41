"""Conversions between Flair span labels and token tag sequences (BIO / BIOES)."""

from flair.data import Sentence


def span_tags(sentence: Sentence, label_type: str, tag_format: str = "BIO") -> list[str]:
    """The token tags of ``sentence`` that encode its ``label_type`` spans.

    Same encoding as Flair's ``SequenceTagger`` uses for its gold labels, so heads built by
    flair-munch and by Flair see identical targets.
    """
    tags = ["O"] * len(sentence)
    for label in sentence.get_labels(label_type):
        if label.value == "O":
            continue
        span = label.data_point
        first, last = span[0].idx - 1, span[-1].idx - 1
        if tag_format == "BIOES" and first == last:
            tags[first] = "S-" + label.value
            continue
        tags[first] = "B-" + label.value
        for i in range(first + 1, last + 1):
            tags[i] = "I-" + label.value
        if tag_format == "BIOES":
            tags[last] = "E-" + label.value
    return tags
