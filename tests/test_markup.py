"""The corpus markup compiles to exact offsets, and its mistakes are located."""
import pytest

from newstag.corpus.markup import MarkupError, compile_article


def test_markup_compiles_to_spans_that_index_the_plain_text():
    doc = compile_article("x", '<q1 direct>“Go,”</q1> <s1>{PER Ana}</s1> <c1>said</c1>. <s2 ref="Ana">She</s2> <c2>left</c2> <q2 indirect>that day</q2>.')
    assert doc.text == "“Go,” Ana said. She left that day."
    for _, span in doc.spans():
        assert doc.text[span.start:span.end] == span.text
    assert doc.quotes[1].speaker_entity.text == "Ana"
    assert doc.quotes[1].speaker_entity.start == doc.entities[0].start


def test_one_number_on_several_contents_makes_quotes_with_one_speaker():
    doc = compile_article("x", '<q1 direct>“A,”</q1> <s1>he</s1> <c1>said</c1>. <q1 direct>“B.”</q1>')
    assert len(doc.quotes) == 2 and doc.quotes[0].speaker == doc.quotes[1].speaker


@pytest.mark.parametrize("body, message", [
    ("{PER Ana", "never closed"),
    ("{XYZ Ana}", "unknown entity label"),
    ("<q1 direct>a <s1>b</s1></q1>", "never nest"),
    ("<q1>a</q1>", "exactly one kind"),
    ('<s1 ref="Nobody">he</s1> <q1 direct>"x"</q1>', "no entity mention"),
    ("<c1>said</c1>", "no <q1> content"),
])
def test_markup_errors_name_the_line(body, message):
    with pytest.raises(MarkupError, match=message) as err:
        compile_article("x", "\n\n" + body, path="src.txt", first_line=10)
    assert err.value.path == "src.txt" and err.value.line >= 10
