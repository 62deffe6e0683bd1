"""Errors of short codes and of the pairing exchange, with the texts shown to users.

Every error has a stable ``code``. :data:`MESSAGES` maps each code to the text a client
shows, in Indonesian (``id``) and English (``en``). The texts for ``code_word`` and
``code_word_suggestion`` contain the placeholders ``{word}`` and ``{suggestion}``.
"""

from __future__ import annotations

from .errors import (
    CodeExpiredError,
    MalformedCodeError,
    NameplateRangeError,
    PairingCancelledError,
    PairingError,
    PairingProtocolError,
    PairingTamperedError,
    ShortCodeError,
    UnknownWordError,
    WrongCodeError,
)

__all__ = [
    "MESSAGES",
    "CodeExpiredError",
    "MalformedCodeError",
    "NameplateRangeError",
    "PairingCancelledError",
    "PairingError",
    "PairingProtocolError",
    "PairingTamperedError",
    "ShortCodeError",
    "UnknownWordError",
    "WrongCodeError",
]


MESSAGES: dict[str, dict[str, str]] = {
    "code_format": {
        "id": (
            "Kode tidak lengkap. Kode terdiri atas satu angka dan dua atau tiga kata, "
            "misalnya 7-kancil-pelangi."
        ),
        "en": (
            "The code is incomplete. A code is one number followed by two or three words, "
            "for example 7-kancil-pelangi."
        ),
    },
    "code_number": {
        "id": "Angka di depan kode harus antara 1 dan 999.",
        "en": "The number at the start of the code must be between 1 and 999.",
    },
    "code_word": {
        "id": "Kata “{word}” tidak ada dalam daftar kata. Periksa lagi ejaannya.",
        "en": "The word “{word}” is not in the word list. Check its spelling.",
    },
    "code_word_suggestion": {
        "id": "Kata “{word}” tidak ada dalam daftar kata. Mungkin maksudnya “{suggestion}”?",
        "en": "The word “{word}” is not in the word list. Did you mean “{suggestion}”?",
    },
    "code_wrong": {
        "id": (
            "Kode tidak cocok. Setiap kode hanya bisa dicoba sekali, jadi buat atau minta "
            "kode baru, lalu periksa setiap katanya dengan teliti."
        ),
        "en": (
            "The codes do not match. Each code can be tried only once, so create or ask for "
            "a new code, then check each of its words carefully."
        ),
    },
    "code_expired": {
        "id": "Kode sudah kedaluwarsa. Buat atau minta kode baru.",
        "en": "The code has expired. Create or ask for a new code.",
    },
    "pairing_cancelled": {
        "id": "Proses menghubungkan dibatalkan.",
        "en": "Pairing was cancelled.",
    },
    "pairing_tampered": {
        "id": "Data untuk menghubungkan rusak dalam perjalanan. Coba lagi dengan kode baru.",
        "en": "Pairing data was damaged on the way. Try again with a new code.",
    },
    "pairing_failed": {
        "id": "Gagal menghubungkan. Coba lagi dengan kode baru.",
        "en": "Pairing failed. Try again with a new code.",
    },
}
