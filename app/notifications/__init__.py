"""Who is told about what, and the inbox of things this user should know."""
