"""Running a study: its plan of jobs, the jobs themselves, the driver's ledger and results index, its folder."""
