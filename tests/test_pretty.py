"""`predict --format pretty`: each speaker once, by the name a reader knows, quotes in order."""
from newstag.corpus.markup import compile_article
from newstag.pretty import who_said_what


def test_quotes_are_grouped_under_the_resolved_name_in_order():
    doc = compile_article("a", '<q1 direct>“We stay,”</q1> <c1>said</c1> <s1>{PER Ana Ruiz}, the mayor of {LOC Quito}</s1>. '
                               '<s2 ref="Ana Ruiz">She</s2> <c2>added</c2> <q2 indirect>that talks would go on</q2>. '
                               '<s3>A spokesman</s3> <c3>said</c3> <q3 indirect>nothing had changed</q3>.')
    text = who_said_what(doc)
    assert text.count("Ana Ruiz:") == 1 and "A spokesman:" in text
    assert text.index("“We stay,”") < text.index("that talks would go on") < text.index("A spokesman:")
    assert "(as “She”)" in text
