"""Credit balances: grants, the burn-down in the ingestion transaction, the journal, holds."""
