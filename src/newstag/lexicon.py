"""Word lists: which words make a speaker a pronoun, a description or a group, and
which nouns are cues. Every rule that reads a speaker's words (the rule linker's
resolution, the learned linker's features, the data checker's statistics) takes its
words from here.
"""
from __future__ import annotations

import re

NAME_LABELS = ("PER", "ORG")  # the entity labels a speaker can resolve to

SINGULAR_PERSON_PRONOUNS = {"he", "she", "him", "her", "his", "i", "me"}
PERSONAL_PRONOUNS = SINGULAR_PERSON_PRONOUNS | {"we", "us", "you"}
GROUP_PRONOUNS = {"it", "they", "them", "its", "their"}
RELATIVE_PERSON = {"who", "whom", "whose"}
RELATIVE_THING = {"which", "that"}
PRONOUNS = PERSONAL_PRONOUNS | GROUP_PRONOUNS | RELATIVE_PERSON | RELATIVE_THING
DETERMINERS = {"the", "a", "an", "this", "that", "these", "those", "its", "his", "her", "their", "our"}

PERSON_NOUNS = {"minister", "president", "spokesman", "spokeswoman", "spokesperson", "official", "chief", "leader",
                "director", "mayor", "governor", "secretary", "chairman", "chairwoman", "chair", "executive", "coach",
                "manager", "judge", "lawyer", "prosecutor", "doctor", "professor", "researcher", "scientist", "author",
                "senator", "lawmaker", "ambassador", "captain", "founder", "owner", "officer", "head", "woman", "man",
                "mother", "father", "farmer", "nurse", "teacher", "striker", "player", "singer", "artist", "envoy"}
ORG_NOUNS = {"company", "ministry", "government", "union", "club", "party", "agency", "court", "police", "firm",
             "group", "council", "department", "organisation", "organization", "bank", "board", "committee",
             "authority", "commission", "association", "federation", "team", "hospital", "university", "school",
             "campaign", "airline", "carrier", "regulator", "operator", "league", "museum", "institute", "army",
             "military", "administration", "office", "parliament", "senate", "charity", "network", "alliance"}
# The rule linker resolves a speaker ending in one of these to an organisation. A narrower
# list than ORG_NOUNS: the rules were tuned with it (BENCHMARKS.md), and widening it is a
# change of behaviour to measure, not a refactoring.
RULE_GROUP_WORDS = {"it", "they", "them", "which", "we", "company", "ministry", "government", "union", "club",
                    "party", "agency", "court", "police", "firm", "group", "council", "department", "organisation",
                    "organization", "bank", "board", "committee", "authority", "officials"}

NOMINAL_CUES = {"statement", "warning", "assurance", "assurances", "claim", "claims", "announcement", "report",
                "remarks", "comments", "letter", "interview", "memo", "ruling", "testimony", "post", "tweet",
                "speech", "message", "note", "email", "promise", "pledge", "admission", "verdict", "view",
                "complaint", "appeal", "filing", "release", "briefing", "address", "estimate", "forecast", "study"}

WORD = re.compile(r"\w+")


def lower_words(text: str) -> list[str]:
    return [w.lower() for w in WORD.findall(text)]
