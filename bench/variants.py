"""Experimental variants of the Mentorship, to measure what a part of it costs (or a proposed change) before anyone
changes workflows/.

Each variant is registered under the workflow type ``Mentorship`` (on its own task queue) and differs from
``workflows.mentorship.Mentorship`` only as its docstring says. None of them is deployed. Each lives in a module
of its own (``bench/variant_*.py``), because the sandbox executes a workflow class's module afresh for every
workflow instance: one module per variant keeps that cost the same for all of them.

A variant subclasses the Mentorship, whose module is imported *passed through* the sandbox: unlike the deployed
workflow (whose module the sandbox executes afresh for every instance), a variant's instances share it.
``passthrough`` measures exactly that and nothing else; compare the other variants with it, not with the
deployed Mentorship.
"""

from __future__ import annotations

from bench.variant_no_feedback import NoFeedback
from bench.variant_no_places import NoPlaces
from bench.variant_no_search_attributes import NoSearchAttributes
from bench.variant_no_summaries import NoSummaries
from bench.variant_no_webhooks import NoWebhooks
from bench.variant_passthrough import Passthrough
from workflows.mentorship import Mentorship

VARIANTS: dict[str, type[Mentorship]] = {
    "passthrough": Passthrough,
    "no-search-attributes": NoSearchAttributes,
    "no-summaries": NoSummaries,
    "no-places": NoPlaces,
    "no-feedback": NoFeedback,
    "no-webhooks": NoWebhooks,
}
