"""Write the sample's labelled corpus (train.tsv, heldout.tsv) deterministically.

Sentences are composed from hand-written parts: reviews of films, food, products, services and
places, with intensifiers, negations ("not bad", "never boring"), contrast ("X but Y") and neutral
statements of fact. The held-out split uses the same grammar with a different random stream, so
its sentences are new combinations rather than copies. Run: python make_corpus.py
"""

from __future__ import annotations

import random
from pathlib import Path

SUBJECTS = {
    "film": ["the movie", "this film", "the sequel", "the documentary", "the plot", "the acting", "the soundtrack",
             "the ending", "the director's new film", "this series", "the first episode", "the script"],
    "food": ["the food", "the pasta", "this restaurant", "the coffee", "the dessert", "the soup", "the pizza",
             "the menu", "the breakfast", "the steak", "the curry", "the bakery"],
    "product": ["this phone", "the laptop", "the battery", "the camera", "these headphones", "the keyboard",
                "the app", "the update", "this charger", "the screen", "the printer", "the vacuum cleaner"],
    "service": ["the service", "the staff", "customer support", "the delivery", "the hotel", "the flight",
                "the checkout process", "the waiter", "the help desk", "the booking site", "the driver", "the course"],
    "place": ["the museum", "the park", "the beach", "this city", "the concert", "the neighbourhood", "the gym",
              "the library", "the festival", "the train station", "the old town", "the zoo"],
}

POSITIVE = ["great", "amazing", "wonderful", "excellent", "fantastic", "brilliant", "delightful", "superb",
            "lovely", "enjoyable", "impressive", "outstanding", "charming", "perfect", "fun", "pleasant",
            "beautiful", "satisfying", "reliable", "fresh", "friendly", "helpful", "smooth", "solid"]
NEGATIVE = ["terrible", "awful", "horrible", "boring", "disappointing", "bad", "dreadful", "poor", "dull",
            "annoying", "useless", "mediocre", "painful", "frustrating", "broken", "bland", "rude", "slow",
            "overpriced", "noisy", "dirty", "clumsy", "weak", "messy"]
INTENSIFIERS = ["", "", "really ", "very ", "truly ", "incredibly ", "absolutely ", "quite ", "so ", "extremely "]
POS_VERBS = ["i loved", "we enjoyed", "i really liked", "everyone adored", "i would recommend", "we were impressed by",
             "my kids loved", "i can't wait to revisit"]
NEG_VERBS = ["i hated", "we regretted", "i really disliked", "nobody enjoyed", "i would not recommend",
             "we were let down by", "i could not stand", "i want a refund for"]
POS_TAILS = ["highly recommended", "worth every penny", "i will come back", "five stars", "a real pleasure",
             "best i have had in years", "exceeded my expectations", "would buy again"]
NEG_TAILS = ["a total waste of money", "never again", "avoid it", "one star", "what a letdown",
             "worst experience in years", "fell short of my expectations", "i want my money back"]
NEUTRAL = [
    "{s} is {n} minutes long", "{s} opens at {h} o'clock", "{s} was released on a {d}",
    "i visited {s} on {d}", "{s} costs {n} dollars", "{s} is available in {c}", "the review of {s} is on page {n}",
    "{s} has {n} reviews so far", "we talked about {s} for a while", "{s} is located near the {p}",
    "i have not decided what to think about {s} yet", "{s} comes in {c} and {c2}", "my friend mentioned {s} yesterday",
    "{s} will be discussed at the meeting on {d}", "the manual for {s} has {n} pages", "{s} was moved to the {p}",
    "there is a sign about {s} near the {p}", "is {s} open on {d}", "what time does {s} close",
    "{s} is described in the brochure", "i read an article about {s}", "{s} uses the standard format",
    "the price of {s} has not changed", "{s} was mentioned in the newsletter", "{s} is neither good nor bad",
    "{s} was okay i guess", "{s} was average", "{s} is fine", "nothing special about {s} either way",
]
DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
COLOURS = ["black", "white", "blue", "red", "green", "grey", "silver"]
PLACES = ["station", "river", "main square", "bank", "post office", "corner shop", "school"]


def _subject(rng: random.Random) -> str:
    return rng.choice(SUBJECTS[rng.choice(sorted(SUBJECTS))])


def _cap(text: str, rng: random.Random) -> str:
    text = text[0].upper() + text[1:]
    return text + rng.choice([".", ".", "!", "", " .", "..."])


def positive(rng: random.Random) -> str:
    s, adj, neg_adj = _subject(rng), rng.choice(POSITIVE), rng.choice(NEGATIVE)
    form = rng.randrange(11)
    if form == 9:
        return f"{s} seemed {neg_adj} at first, but it turned out {adj}"
    if form == 10:
        return f"the reviews said {s} would be {neg_adj}; they were wrong, it was {adj}"
    if form == 0:
        return f"{s} was {rng.choice(INTENSIFIERS)}{adj}"
    if form == 1:
        return f"{rng.choice(POS_VERBS)} {s}"
    if form == 2:
        return f"{s} is not {neg_adj} at all"
    if form == 3:
        return f"{s} was never {neg_adj}, {rng.choice(POS_TAILS)}"
    if form == 4:
        return f"{s} was {rng.choice(INTENSIFIERS)}{adj} and {rng.choice(POSITIVE)}"
    if form == 5:
        return f"i expected it to be {neg_adj} but {s} was {adj}"
    if form == 6:
        return f"{s}: {adj}, {rng.choice(POS_TAILS)}"
    if form == 7:
        return f"i can't say anything bad about {s}, it was {adj}"
    return f"what a {adj} experience, {rng.choice(POS_TAILS)}"


def negative(rng: random.Random) -> str:
    s, adj, pos_adj = _subject(rng), rng.choice(NEGATIVE), rng.choice(POSITIVE)
    form = rng.randrange(11)
    if form == 9:
        return f"{s} looked {pos_adj} at first, but it turned out {adj}"
    if form == 10:
        return f"the reviews said {s} would be {pos_adj}; they were wrong, it was {adj}"
    if form == 0:
        return f"{s} was {rng.choice(INTENSIFIERS)}{adj}"
    if form == 1:
        return f"{rng.choice(NEG_VERBS)} {s}"
    if form == 2:
        return f"{s} is not {pos_adj} at all"
    if form == 3:
        return f"{s} was not {pos_adj}, {rng.choice(NEG_TAILS)}"
    if form == 4:
        return f"{s} was {rng.choice(INTENSIFIERS)}{adj} and {rng.choice(NEGATIVE)}"
    if form == 5:
        return f"i expected it to be {pos_adj} but {s} was {adj}"
    if form == 6:
        return f"{s}: {adj}, {rng.choice(NEG_TAILS)}"
    if form == 7:
        return f"i can't say anything good about {s}, it was {adj}"
    return f"what a {adj} experience, {rng.choice(NEG_TAILS)}"


def neutral(rng: random.Random) -> str:
    template = rng.choice(NEUTRAL)
    return template.format(
        s=_subject(rng), n=rng.randrange(2, 240), h=rng.randrange(1, 12), d=rng.choice(DAYS),
        c=rng.choice(COLOURS), c2=rng.choice(COLOURS), p=rng.choice(PLACES),
    )


LABELS = ["Negative", "Neutral", "Positive"]
MAKERS = [negative, neutral, positive]


def make(n: int, seed: int, exclude: set[str]) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    rows: list[tuple[str, str]] = []
    seen = set(exclude)
    while len(rows) < n:
        label = len(rows) % 3
        text = _cap(MAKERS[label](rng), rng)
        if text.lower() in seen:
            continue
        seen.add(text.lower())
        rows.append((text, LABELS[label]))
    return rows


def main() -> None:
    here = Path(__file__).parent
    train = make(3600, seed=1, exclude=set())
    heldout = make(900, seed=2, exclude={t.lower() for t, _ in train})
    for name, rows in (("train.tsv", train), ("heldout.tsv", heldout)):
        lines = ["text\tlabel"] + [f"{t}\t{label}" for t, label in rows]
        (here / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"{name}: {len(rows)} sentences")


if __name__ == "__main__":
    main()
