"""shopflow api: the KPI tables, the runs and the validation reports over async HTTP."""
