"""Study recipes: one YAML file describing corpora, schedules, grid and seeds, validated before training."""

from flair_munch.recipes.schema import Recipe, RecipeError, RunSpec, ScheduleSpec, check_data, load_recipe

__all__ = ["Recipe", "RecipeError", "RunSpec", "ScheduleSpec", "check_data", "load_recipe"]
