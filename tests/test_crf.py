"""The CRF layer: its loss is the sequence likelihood, and constrained decoding never emits an invalid BIO sequence."""
import numpy as np
import pytest
import torch

from newstag.crf import IGNORE, allowed_transitions, bio_tags, crf_loss, masked_loss, transition_log_probs, viterbi


def is_valid(tags):
    prev = "O"
    for t in tags:
        if t.startswith("I-") and prev[2:] != t[2:]:
            return False
        prev = t
    return True


def test_random_scores_always_decode_to_valid_sequences():
    tags = bio_tags(["PER", "ORG", "LOC", "MISC"])
    rng = np.random.default_rng(0)
    for _ in range(200):
        lp = np.log(rng.dirichlet(np.ones(len(tags)), size=rng.integers(1, 30)))
        assert is_valid([tags[i] for i in viterbi(lp, tags)])


def test_a_confident_valid_path_is_kept():
    tags = bio_tags(["PER"])
    probs = np.array([[0.05, 0.9, 0.05], [0.05, 0.05, 0.9], [0.9, 0.05, 0.05]])
    assert [tags[i] for i in viterbi(np.log(probs), tags)] == ["B-PER", "I-PER", "O"]


def test_an_orphan_inside_tag_is_repaired():
    tags = bio_tags(["PER"])
    probs = np.array([[0.6, 0.1, 0.3], [0.1, 0.1, 0.8]])  # argmax says O, I-PER
    decoded = [tags[i] for i in viterbi(np.log(probs), tags)]
    assert is_valid(decoded)


def test_transitions_forbid_inside_after_other_label():
    tags = bio_tags(["PER", "LOC"])
    allowed = allowed_transitions(tags)
    assert not allowed[tags.index("B-PER"), tags.index("I-LOC")]
    assert allowed[tags.index("B-PER"), tags.index("I-PER")]
    assert not allowed[tags.index("O"), tags.index("I-PER")]


def test_empty_input_decodes_to_nothing():
    assert viterbi(np.zeros((0, 3)), bio_tags(["PER"])) == []


def test_a_transition_prior_keeps_a_two_word_cue_whole():
    """Per-word scores that slightly prefer "also | said" as two cues; the labels seen in
    training almost never put one cue right after another, so the prior joins them."""
    tags = bio_tags(["CUE"])  # O, B-CUE, I-CUE
    also_said = np.log(np.array([[0.1, 0.8, 0.1], [0.1, 0.47, 0.43]]))
    assert [tags[i] for i in viterbi(also_said, tags)] == ["B-CUE", "B-CUE"]
    training = [["O", "B-CUE", "I-CUE", "O"], ["O", "B-CUE", "O"], ["B-CUE", "O", "O"]] * 5
    prior = 0.3 * transition_log_probs(training, tags)
    assert [tags[i] for i in viterbi(also_said, tags, prior)] == ["B-CUE", "I-CUE"]


def test_transition_log_probs_are_smoothed_distributions():
    tags = bio_tags(["PER"])
    table = transition_log_probs([["B-PER", "I-PER", "O"]], tags)
    assert np.allclose(np.exp(table).sum(1), 1.0) and np.isfinite(table).all()
    assert table[1, 2] > table[1, 1]  # B-PER → I-PER was seen, B-PER → B-PER was not


def test_masked_loss_ignores_unlabelled_positions():
    logits = torch.randn(1, 3, 5)
    labels = torch.tensor([[2, IGNORE, IGNORE]])
    expected = torch.nn.functional.cross_entropy(logits[0, :1], labels[0, :1])
    assert torch.isclose(masked_loss(logits, labels), expected)


def test_crf_loss_is_the_sequence_negative_log_likelihood_over_labelled_words():
    import itertools

    torch.manual_seed(3)
    emissions, transitions = torch.randn(2, 5, 3), torch.randn(3, 3)
    # Row 0: words at positions 0, 2, 3 (1 and 4 are later subwords); row 1: one word.
    labels = torch.tensor([[2, IGNORE, 0, 1, IGNORE], [IGNORE, 1, IGNORE, IGNORE, IGNORE]])

    def nll(em, tags):
        def score(path):
            return sum(em[i, t] for i, t in enumerate(path)) + sum(transitions[a, b] for a, b in zip(path, path[1:]))
        log_z = torch.logsumexp(torch.stack([score(p) for p in itertools.product(range(3), repeat=len(tags))]), 0)
        return log_z - score(tags)

    expected = (nll(emissions[0, [0, 2, 3]], [2, 0, 1]) + nll(emissions[1, [1]], [1])) / 4
    assert torch.isclose(crf_loss(emissions, labels, transitions), expected, atol=1e-5)
    assert crf_loss(emissions, torch.full_like(labels, IGNORE), transitions).item() == 0.0


def test_span_marginals_are_the_probability_of_exactly_that_span_under_the_chain():
    """Forward-backward against summing every valid tag path of a short sentence."""
    import itertools

    import numpy as np

    from newstag.crf import allowed_starts, allowed_transitions, bio_tags, span_marginals
    from newstag.text import bio_to_spans

    rng = np.random.default_rng(0)
    tags = bio_tags(["PER", "ORG"])
    log_probs, transitions = rng.normal(size=(5, len(tags))), rng.normal(size=(len(tags), len(tags)))
    allowed, starts = allowed_transitions(tags), allowed_starts(tags)
    mass, total = {}, 0.0
    for path in itertools.product(range(len(tags)), repeat=5):
        if not starts[path[0]] or not all(allowed[a, b] for a, b in zip(path, path[1:])):
            continue
        weight = np.exp(sum(log_probs[i, t] for i, t in enumerate(path)) + sum(transitions[a, b] for a, b in zip(path, path[1:])))
        total += weight
        for span in bio_to_spans([tags[t] for t in path]):
            mass[span] = mass.get(span, 0.0) + weight
    spans = sorted(mass)
    assert span_marginals(log_probs, tags, transitions, spans) == pytest.approx([mass[s] / total for s in spans])


def test_articles_decoded_together_get_what_each_gets_alone():
    """Chains pads sequences of different lengths into one array: padding changes nothing."""
    from newstag.crf import Chains, span_marginals
    from newstag.text import bio_to_spans

    rng = np.random.default_rng(3)
    tags = bio_tags(["DIRECT", "CUE"])
    transitions = rng.normal(size=(len(tags), len(tags)))
    sequences = [np.log(rng.dirichlet(np.ones(len(tags)), size=n)) for n in (7, 1, 0, 30, 12)]
    chains = Chains(sequences, tags, transitions)
    paths = chains.viterbi()
    spans = [bio_to_spans([tags[i] for i in path]) for path in paths]
    together = chains.span_marginals(spans)
    for lp, path, seq_spans, scores in zip(sequences, paths, spans, together):
        assert path == viterbi(lp, tags, transitions)
        assert scores == pytest.approx(span_marginals(lp, tags, transitions, seq_spans), rel=1e-9)


def test_span_marginals_do_not_underflow_on_long_confident_sequences():
    """2,000 words of near-certain tags: a product of probabilities that would underflow
    unscaled; the span's marginal is still a probability near 1."""
    from newstag.crf import span_marginals

    tags = bio_tags(["PER"])
    probs = np.full((2000, 3), 1e-30)
    probs[:, 0] = 1.0
    probs[1000:1003, 0], probs[1000, 1], probs[1001:1003, 2] = 1e-30, 1.0, 1.0
    [score] = span_marginals(np.log(probs), tags, None, [(1000, 1003, "PER")])
    assert score == pytest.approx(1.0, abs=1e-6)
