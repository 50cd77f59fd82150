"""What the docs promise of a member in another population size or chunk: equal up to float
rounding, which chaotic (large learning-rate) training grows into other results. They promised
``chunk`` "the same results"; a full-batch SGD member at lr 13.3 (2-8-1 tanh, 700 epochs) differs
in the last bit at epoch 2 between P=50 and P=1 and ends materially otherwise."""

from jaxmlp import fit_population, population
from jaxmlp.run import sweeper


def test_the_docs_state_equality_up_to_rounding_and_its_growth_under_chaotic_training():
    for doc in (population.__doc__, fit_population.__doc__, sweeper.__doc__):
        text = " ".join(doc.split())
        assert "up to float rounding" in text and "chaotic" in text, doc
    assert "with the same results" not in " ".join(fit_population.__doc__.split())
