from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.peer.id import ID

from bullpen.app.members.identity import Identity, peer_id_from_public, public_from_peer_id, verify


def test_peer_id_matches_libp2p():
    identity = Identity.generate()
    pair = create_new_key_pair(identity.seed)
    assert identity.peer_id == ID.from_pubkey(pair.public_key).to_base58()
    assert public_from_peer_id(identity.peer_id) == identity.public
    assert peer_id_from_public(identity.public) == identity.peer_id


def test_signatures():
    identity = Identity.generate()
    sig = identity.sign(b"hello")
    assert verify(identity.public, sig, b"hello")
    assert not verify(identity.public, sig, b"hellO")
    assert not verify(Identity.generate().public, sig, b"hello")


def test_libsodium_verify_agrees_with_cryptography():
    from cryptography.exceptions import InvalidSignature

    identity = Identity.generate()
    public_key = identity.private_key.public_key()
    for message in (b"", b"x", b"membership entry" * 50):
        sig = identity.sign(message)
        public_key.verify(sig, message)  # cryptography accepts it
        assert verify(identity.public, sig, message)
        bad = sig[:10] + bytes([sig[10] ^ 1]) + sig[11:]
        assert not verify(identity.public, bad, message)
        try:
            public_key.verify(bad, message)
            raise AssertionError("cryptography accepted a bad signature")
        except InvalidSignature:
            pass
    assert not verify(identity.public[:31], sig, b"x")
