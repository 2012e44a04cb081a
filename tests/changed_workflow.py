"""A deploy that changed TenderWorkflow without a ``workflow.patched`` guard:
it ends at once. Its own module with nothing but temporalio, because the
replayer's sandbox re-imports the module of every workflow it runs."""

from temporalio import workflow


@workflow.defn(name="TenderWorkflow")
class ChangedTenderWorkflow:
    @workflow.run
    async def run(self, inp: dict) -> str:  # type: ignore[type-arg]
        return "changed"
