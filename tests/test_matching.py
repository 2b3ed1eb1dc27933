"""When a predicted speaker is the gold one: one surname rule for evaluation and linker training."""
from newstag.document import Span
from newstag.matching import surname


def at(text, needle):
    i = text.index(needle)
    return Span(start=i, end=i + len(needle))


def test_a_surname_is_the_last_word_without_possessive_or_punctuation():
    text = "Ana Ruiz's plan, said Ruiz, (Jones) and Mr. Ross."
    assert surname(text, at(text, "Ana Ruiz's")) == surname(text, at(text, "Ruiz,")) == "ruiz"
    assert surname(text, at(text, "(Jones)")) == "jones", "a name ending in s keeps it"
    assert surname(text, at(text, "Mr. Ross.")) == "ross"
    assert surname(text, None) is None
