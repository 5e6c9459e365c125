"""The API's routers: ``mentorships`` (behind the API key), ``links`` (the email link pages), ``health``."""
