"""Screen text and the scripted conversation of ``konsel-chat demo``, in Indonesian and English."""

from __future__ import annotations

from typing import Any

UI: dict[str, dict[str, str]] = {
    "id": {
        "relay_started": "Relai konsel berjalan di {url} (data sementara di {folder}).",
        "contact_published": (
            "{name} (guru BK) membuat alamat kontak di relai dan mengunggah {count} prekey "
            "sekali pakai, lalu luring."
        ),
        "student_fetched": (
            "{name} (konseli) mengambil bundel prekey guru BK dan memulai sesi terenkripsi "
            "X3DH, walaupun guru BK sedang luring."
        ),
        "student_sent": "Konseli mengirim {count} pesan terenkripsi; relai menyimpannya.",
        "got_profile": "[{name}] Permintaan kontak baru dari {sender} ({role}).",
        "got_text": "[{name}] menerima: {body}",
        "got_session": "[{name}] Sesi konseling {action}.",
        "session_start": "dimulai",
        "role_konselor": "guru BK",
        "role_konseli": "konseli",
        "session_end": "diakhiri",
        "got_eval_request": "[{name}] Guru BK meminta penilaian segera (LAISEG): {prompts}",
        "got_eval_answers": (
            "[{name}] Jawaban LAISEG diterima. Pemahaman: {understanding} | Perasaan: "
            "{comfort} | Rencana: {action}"
        ),
        "safety_code": "Kode keamanan (cocokkan lewat telepon atau tatap muka):\n  {digits}\n  {words}",
        "safety_match": "Kode keamanan di kedua perangkat sama: tidak ada pihak di tengah.",
        "safety_mismatch": "PERINGATAN: kode keamanan berbeda!",
        "relay_files": "Mencari {count} kalimat percakapan di berkas data relai...",
        "relay_leak": "GAGAL: relai menyimpan teks terbaca: {found}",
        "relay_clean": "Tidak satu pun ditemukan: relai hanya menyimpan teks sandi.",
        "done": "Demo selesai. Data sementara dihapus.",
        "interrupted": "Demo dihentikan. Data sementara dihapus.",
    },
    "en": {
        "relay_started": "konsel relay running at {url} (temporary data in {folder}).",
        "contact_published": (
            "{name} (counselor) created a contact address on the relay, uploaded {count} "
            "one-time prekeys, and went offline."
        ),
        "student_fetched": (
            "{name} (student) fetched the counselor's prekey bundle and started an X3DH "
            "encrypted session while the counselor was offline."
        ),
        "student_sent": "The student sent {count} encrypted messages; the relay stored them.",
        "got_profile": "[{name}] New contact request from {sender} ({role}).",
        "got_text": "[{name}] received: {body}",
        "got_session": "[{name}] Counseling session {action}.",
        "session_start": "started",
        "role_konselor": "counselor",
        "role_konseli": "student",
        "session_end": "ended",
        "got_eval_request": "[{name}] The counselor asks for the immediate evaluation (LAISEG): {prompts}",
        "got_eval_answers": (
            "[{name}] LAISEG answers received. Understanding: {understanding} | Feeling: "
            "{comfort} | Plan: {action}"
        ),
        "safety_code": (
            "Safety code (compare by phone or face to face; the words are Indonesian):"
            "\n  {digits}\n  {words}"
        ),
        "safety_match": "Both devices show the same safety code: nobody sits in the middle.",
        "safety_mismatch": "WARNING: the safety codes differ!",
        "relay_files": "Searching the relay's data files for the {count} sentences of the conversation...",
        "relay_leak": "FAILED: the relay stored readable text: {found}",
        "relay_clean": "None was found: the relay stored only ciphertext.",
        "done": "Demo finished. Temporary data deleted.",
        "interrupted": "Demo stopped. Temporary data deleted.",
    },
}

SCRIPT: dict[str, dict[str, Any]] = {
    "id": {
        "opening": [
            "Selamat siang, Bu Sari. Saya Dimas dari kelas 8B.",
            "Bu, saya mau cerita soal teman sekelas. Boleh minta waktu Ibu?",
        ],
        "turns": [
            (
                True,
                "Selamat siang, Dimas. Terima kasih sudah menghubungi Ibu. Ibu punya waktu sekarang sekitar 30 menit. Ceritakan saja pelan-pelan, ya.",
            ),
            (
                False,
                "Sudah dua minggu ini beberapa teman sering mengejek saya di grup kelas. Saya jadi malas masuk sekolah.",
            ),
            (
                True,
                "Kedengarannya itu berat sekali buat kamu. Sejak ejekan itu mulai, apa yang paling kamu rasakan?",
            ),
            (False, "Malu dan capek, Bu. Tapi saya tidak mau melapor karena takut makin diejek."),
            (
                True,
                "Jadi kamu ingin ejekannya berhenti, tetapi khawatir kalau melapor malah memperburuk keadaan. Apa Ibu menangkapnya dengan benar?",
            ),
            (False, "Iya, Bu, betul."),
            (
                True,
                "Bagaimana kalau kita susun langkah kecil bersama: kamu simpan tangkapan layar, lalu Ibu bicara dengan wali kelas tanpa menyebut namamu dulu. Menurutmu bagaimana?",
            ),
            (False, "Boleh, Bu. Saya simpan tangkapan layarnya malam ini."),
        ],
        "laiseg": [
            ("understanding", "Apa yang sekarang kamu pahami dan sebelumnya belum?"),
            ("comfort", "Bagaimana perasaanmu sekarang dibandingkan tadi?"),
            ("action", "Apa yang akan kamu lakukan, dan kapan?"),
        ],
        "answers": {
            "understanding": "Melapor bisa dilakukan tanpa nama saya disebut.",
            "comfort": "Lebih lega, tidak sendirian lagi.",
            "action": "Malam ini menyimpan tangkapan layar, besok memberikannya ke Bu Sari.",
            "comment": "Terima kasih, Bu.",
        },
    },
    "en": {
        "opening": [
            "Good afternoon, Mrs Sari. I'm Dimas from class 8B.",
            "I'd like to talk about some classmates. Do you have time?",
        ],
        "turns": [
            (
                True,
                "Good afternoon, Dimas. Thank you for reaching out. I have about 30 minutes now. Take your time and tell me.",
            ),
            (
                False,
                "For two weeks some classmates have been mocking me in the class group chat. I don't feel like going to school.",
            ),
            (
                True,
                "That sounds really hard for you. Since the mocking started, what have you felt the most?",
            ),
            (
                False,
                "Embarrassed and tired. But I don't want to report it because I'm afraid it will get worse.",
            ),
            (
                True,
                "So you want the mocking to stop, but you worry that reporting it could make things worse. Did I get that right?",
            ),
            (False, "Yes, that's right."),
            (
                True,
                "How about a small plan together: you keep screenshots, and I talk to your homeroom teacher without naming you yet. What do you think?",
            ),
            (False, "Okay. I'll save the screenshots tonight."),
        ],
        "laiseg": [
            ("understanding", "What do you understand now that you did not before?"),
            ("comfort", "How do you feel now compared with the start?"),
            ("action", "What will you do next, and when?"),
        ],
        "answers": {
            "understanding": "Reporting can happen without my name being mentioned.",
            "comfort": "Relieved, I'm not alone with it any more.",
            "action": "Save the screenshots tonight and give them to Mrs Sari tomorrow.",
            "comment": "Thank you.",
        },
    },
}
