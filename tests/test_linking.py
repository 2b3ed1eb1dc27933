"""The rule linker: same sentence first, continuation, previous sentence, nearest name."""
from newstag.linking import Mention, PredictedQuote, Predictions, load_linker


def spans_of(text, *needles, label=""):
    out = []
    for n in needles:
        i = text.index(n)
        out.append(Mention(i, i + len(n), 1.0, label))
    return out


def quote(text, needle, kind="direct"):
    i = text.index(needle)
    return PredictedQuote(i, i + len(needle), kind, 1.0)


def link(text, quotes, cues, speakers, entities):
    """The rule linker on these spans; the linked quotes, in text order."""
    return load_linker("rule")(text, Predictions(quotes, cues, speakers, entities))


def test_speaker_in_the_same_sentence_and_continuation_in_the_next():
    text = "“We stay,” union chief Ana Ruiz said on Monday. “Not one crane moves.”"
    quotes = [quote(text, "“We stay,”"), quote(text, "“Not one crane moves.”")]
    quotes = link(text, quotes, spans_of(text, "said"), spans_of(text, "union chief Ana Ruiz"), spans_of(text, "Ana Ruiz", label="PER"))
    assert [text[q.speaker.start:q.speaker.end] for q in quotes] == ["union chief Ana Ruiz"] * 2
    assert quotes[1].speaker_entity is None, "the speaker is itself a name"


def test_pronoun_speaker_resolves_to_the_previous_person():
    text = "Ana Ruiz met the board of Portos SA. She said that talks would resume."
    q = quote(text, "that talks would resume", "indirect")
    q, = link(text, [q], spans_of(text, "said"), spans_of(text, "She"),
              spans_of(text, "Ana Ruiz", label="PER") + spans_of(text, "Portos SA", label="ORG"))
    assert text[q.speaker_entity.start:q.speaker_entity.end] == "Ana Ruiz"


def test_relative_pronoun_resolves_to_the_organisation_before_it():
    text = "Ana Ruiz criticised the Green Party, which warned that costs would rise."
    q = quote(text, "that costs would rise", "indirect")
    q, = link(text, [q], spans_of(text, "warned"), spans_of(text, "which"),
              spans_of(text, "Ana Ruiz", label="PER") + spans_of(text, "Green Party", label="ORG"))
    assert text[q.speaker_entity.start:q.speaker_entity.end] == "Green Party"


def test_speaker_in_the_previous_sentence():
    text = "Ana Ruiz was blunt. “Nobody listened.”"
    q = quote(text, "“Nobody listened.”")
    q, = link(text, [q], spans_of(text, "was blunt"), spans_of(text, "Ana Ruiz"), spans_of(text, "Ana Ruiz", label="PER"))
    assert text[q.speaker.start:q.speaker.end] == "Ana Ruiz"
    assert text[q.cue.start:q.cue.end] == "was blunt", "the cue of the sentence the quote stands against"


def test_a_question_that_closes_its_sentence_takes_the_cue_after_it():
    text = "“Why now?” Ana Ruiz asked. The board did not answer."
    q = quote(text, "“Why now?”")
    q, = link(text, [q], spans_of(text, "asked"), spans_of(text, "Ana Ruiz"), [])
    assert text[q.cue.start:q.cue.end] == "asked"


def test_a_cue_across_a_paragraph_or_another_quote_is_not_taken():
    text = "Ana Ruiz said so on Monday.\n\n“Nobody listened.” “Nobody came.” The board said little."
    quotes = [quote(text, "“Nobody listened.”"), quote(text, "“Nobody came.”")]
    quotes = link(text, quotes, spans_of(text, "said so", "said little"), [], [])
    assert quotes[0].cue is None, "the cue before stands in another paragraph"
    assert quotes[1].cue is None, "after a full stop, the next sentence's cue is its own"


def test_a_colon_carries_the_cue_over_a_paragraph_break():
    text = "The Harbour Gazette reports:\n\n“Cranes stood idle all week.”"
    q = quote(text, "“Cranes stood idle all week.”")
    q, = link(text, [q], spans_of(text, "reports"), spans_of(text, "The Harbour Gazette"), [])
    assert text[q.cue.start:q.cue.end] == "reports"
