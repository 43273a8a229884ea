"""The recognisers as they were before they tried their patterns only at candidate
starts and looked only at candidate tokens: ``names``, ``spoken`` and ``identifiers``
copied unchanged from the commit before, the reference of
``tests/archive/test_recognisers_equivalence.py``."""
