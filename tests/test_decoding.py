"""Constrained decoding never emits an invalid BIO sequence."""
import numpy as np

from newstag.decoding import allowed_transitions, bio_tags, viterbi


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
    from newstag.decoding import transition_log_probs

    tags = bio_tags(["CUE"])  # O, B-CUE, I-CUE
    also_said = np.log(np.array([[0.1, 0.8, 0.1], [0.1, 0.47, 0.43]]))
    assert [tags[i] for i in viterbi(also_said, tags)] == ["B-CUE", "B-CUE"]
    training = [["O", "B-CUE", "I-CUE", "O"], ["O", "B-CUE", "O"], ["B-CUE", "O", "O"]] * 5
    prior = 0.3 * transition_log_probs(training, tags)
    assert [tags[i] for i in viterbi(also_said, tags, prior)] == ["B-CUE", "I-CUE"]


def test_transition_log_probs_are_smoothed_distributions():
    from newstag.decoding import transition_log_probs

    tags = bio_tags(["PER"])
    table = transition_log_probs([["B-PER", "I-PER", "O"]], tags)
    assert np.allclose(np.exp(table).sum(1), 1.0) and np.isfinite(table).all()
    assert table[1, 2] > table[1, 1]  # B-PER → I-PER was seen, B-PER → B-PER was not
