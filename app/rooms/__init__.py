"""Deal rooms: spaces a rep makes for a customer's account or deal, what goes in them, and
their guests (:mod:`.rooms`: making and filling a room, closing and reopening it;
:mod:`.guests`: inviting contacts, letting them in, their activity, revoking them)."""
