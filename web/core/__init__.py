"""What every feature package of the web app shares: dependencies, errors, templating, i18n, forms."""
