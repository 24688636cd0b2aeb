"""Who is in the workspace and what each may do: identity, invites, the membership log, roles,
signatures."""
