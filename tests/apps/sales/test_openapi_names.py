"""Every schema of the sales app keeps its own name in the OpenAPI document: two models of one
name (here or in another app) would both be renamed to their module paths, and the dashboard's
generated types would lose the name they use."""

from __future__ import annotations

from fastapi import FastAPI


def test_no_sales_schema_is_renamed_for_a_clash(sales_api: FastAPI) -> None:
    names = sales_api.openapi()["components"]["schemas"]
    assert [name for name in names if "__" in name and "sales" in name] == []
    assert {"PipelineStage", "LeadRowProblem", "ProposalLine", "ProposalTotals"} <= set(names)
