"""The conversation that ``konsel-chat demo`` plays, in Indonesian and English.

A guru BK (Bu Sari) and a konseli (Dimas, class 8B) hold one short counseling session
about classmates who mock him in the class group chat. The session passes through the
five KOPASTA stages. In each stage the counselor uses a guiding prompt of the KOPASTA
guide as a draft, or types an own line, and the konseli replies. The prompts are named
by their key in ``client/data/kopasta.toml``, so the demo shows the school's wording of
them; the konseli's replies fit the packaged wording.

These lines are sample content, not interface text, so they live here and not in the
message catalogs.
"""

from __future__ import annotations

from dataclasses import dataclass

from konsel.client.core.kopasta import Language, Stage


@dataclass(frozen=True)
class Turn:
    """One exchange: the counselor writes, then the konseli replies."""

    reply: str
    """The konseli's reply."""
    prompt: str | None = None
    """Key of the stage's guiding prompt that the counselor uses as a draft, or None."""
    line: str = ""
    """The counselor's typed text: the whole message, or text added after the prompt."""


@dataclass(frozen=True)
class StageScript:
    """One KOPASTA stage of the script: its exchanges and the record fields filled."""

    stage: Stage
    turns: tuple[Turn, ...]
    fields: tuple[tuple[str, str], ...] = ()
    """Record field key and stored value (an option key or text), filled after the turns."""


@dataclass(frozen=True)
class LaisegAnswers:
    """The konseli's answers to the LAISEG evaluation."""

    understanding: str
    comfort: str
    action: str
    comment: str
    ratings: tuple[tuple[str, int], ...]
    """Rating question key and score from 1 to 5. Only keys the request contains are sent."""


@dataclass(frozen=True)
class DemoScript:
    """The whole scripted session in one language."""

    counselor_name: str
    student_name: str
    school_name: str
    retention_period: str
    """How long the school keeps counseling records, for the consent text."""
    stages: tuple[StageScript, ...]
    laiseg: LaisegAnswers
    follow_up_days: tuple[tuple[str, int], ...] = (("laijapen", 7), ("laijapang", 90))
    """Follow-up kind and how many days from today it is due."""


_RATINGS = (
    ("rating_thinking", 4),
    ("rating_feeling", 4),
    ("rating_attitude", 4),
    ("rating_action", 5),
    ("rating_responsibility", 4),
)

INDONESIAN = DemoScript(
    counselor_name="Bu Sari",
    student_name="Dimas",
    school_name="SMP Negeri 1 Contoh",
    retention_period="tiga tahun",
    stages=(
        StageScript(
            Stage.PENGANTARAN,
            (
                Turn("Selamat siang, Bu Sari. Saya Dimas dari kelas 8B.", prompt="greeting"),
                Turn(
                    "Iya, Bu. Saya di kamar sendirian, jadi bisa cerita dengan tenang.",
                    prompt="safe_to_talk",
                ),
                Turn(
                    "Sudah dua minggu ini beberapa teman mengejek saya di grup kelas. "
                    "Saya jadi malas masuk sekolah.",
                    prompt="invite_story",
                ),
            ),
            (("arrival", "own_initiative"), ("identity_check", "safety_code")),
        ),
        StageScript(
            Stage.PENJAJAGAN,
            (
                Turn(
                    "Saya susah tidur, Bu, dan di kelas tidak bisa konsentrasi.",
                    prompt="daily_effect",
                ),
                Turn(
                    "Saya cuma cerita ke kakak. Saya tidak mau melapor karena takut makin diejek.",
                    prompt="strengths",
                ),
            ),
            (
                ("problem_area", "sosial"),
                ("problem_in_own_words", "Diejek teman di grup kelas, jadi malas sekolah."),
                ("risk_level", "low"),
            ),
        ),
        StageScript(
            Stage.PENAFSIRAN,
            (
                Turn(
                    "Iya, Bu, betul.",
                    line="Coba saya rangkum, ya. Kamu ingin ejekan itu berhenti, tetapi "
                    "khawatir keadaannya memburuk kalau kamu melapor. Apakah itu sudah tepat?",
                ),
                Turn(
                    "Saya ingin bisa masuk kelas dengan tenang lagi.",
                    prompt="what_instead",
                ),
            ),
            (("goals", "Dimas kembali nyaman bersekolah dan ejekan di grup kelas berhenti."),),
        ),
        StageScript(
            Stage.PEMBINAAN,
            (
                Turn(
                    "Boleh, Bu. Saya simpan tangkapan layarnya malam ini.",
                    line="Bagaimana kalau kita mulai dengan langkah kecil? Kamu simpan "
                    "tangkapan layar ejekannya, lalu saya bicara dengan wali kelas tanpa "
                    "menyebut namamu dulu.",
                ),
                Turn("Delapan, Bu.", prompt="strengthen_resolve"),
            ),
            (
                (
                    "action_plan",
                    "Malam ini Dimas menyimpan tangkapan layar; besok guru BK menemui wali kelas.",
                ),
            ),
        ),
        StageScript(
            Stage.PENILAIAN,
            (
                Turn("Kamis depan bisa, Bu.", prompt="schedule_follow_up"),
                Turn("Terima kasih banyak, Bu.", prompt="closing"),
            ),
            (("problem_status", "partly_resolved"), ("follow_up", "another_session")),
        ),
    ),
    laiseg=LaisegAnswers(
        understanding="Melapor bisa dilakukan tanpa nama saya disebut.",
        comfort="Lebih lega, saya tidak sendirian lagi.",
        action="Malam ini menyimpan tangkapan layar, besok memberikannya ke Bu Sari.",
        comment="Terima kasih sudah mendengarkan, Bu.",
        ratings=_RATINGS,
    ),
)

ENGLISH = DemoScript(
    counselor_name="Mrs Sari",
    student_name="Dimas",
    school_name="SMP Negeri 1 Contoh",
    retention_period="three years",
    stages=(
        StageScript(
            Stage.PENGANTARAN,
            (
                Turn("Good afternoon, Mrs Sari. I'm Dimas from class 8B.", prompt="greeting"),
                Turn(
                    "Yes. I'm alone in my room, so I can talk calmly.",
                    prompt="safe_to_talk",
                ),
                Turn(
                    "For two weeks some classmates have been mocking me in the class "
                    "group chat. I don't feel like going to school.",
                    prompt="invite_story",
                ),
            ),
            (("arrival", "own_initiative"), ("identity_check", "safety_code")),
        ),
        StageScript(
            Stage.PENJAJAGAN,
            (
                Turn(
                    "I can't sleep well, and in class I can't concentrate.",
                    prompt="daily_effect",
                ),
                Turn(
                    "I only told my older sister. I don't want to report it because I'm "
                    "afraid they'll mock me more.",
                    prompt="strengths",
                ),
            ),
            (
                ("problem_area", "sosial"),
                ("problem_in_own_words", "Mocked in the class group chat, avoids school."),
                ("risk_level", "low"),
            ),
        ),
        StageScript(
            Stage.PENAFSIRAN,
            (
                Turn(
                    "Yes, that's right.",
                    line="Let me sum up. You want the mocking to stop, but you worry that "
                    "reporting it could make things worse. Is that right?",
                ),
                Turn("I want to walk into class calmly again.", prompt="what_instead"),
            ),
            (("goals", "Dimas feels at ease at school again and the mocking stops."),),
        ),
        StageScript(
            Stage.PEMBINAAN,
            (
                Turn(
                    "Okay. I'll save the screenshots tonight.",
                    line="How about a small first step? You keep screenshots of the "
                    "messages, and I talk to your homeroom teacher without naming you yet.",
                ),
                Turn("Eight.", prompt="strengthen_resolve"),
            ),
            (
                (
                    "action_plan",
                    "Tonight Dimas saves the screenshots; tomorrow the counselor meets "
                    "the homeroom teacher.",
                ),
            ),
        ),
        StageScript(
            Stage.PENILAIAN,
            (
                Turn("Next Thursday works for me.", prompt="schedule_follow_up"),
                Turn("Thank you so much.", prompt="closing"),
            ),
            (("problem_status", "partly_resolved"), ("follow_up", "another_session")),
        ),
    ),
    laiseg=LaisegAnswers(
        understanding="Reporting can happen without my name being mentioned.",
        comfort="Relieved, I'm not alone with it any more.",
        action="Save the screenshots tonight and give them to Mrs Sari tomorrow.",
        comment="Thank you for listening.",
        ratings=_RATINGS,
    ),
)

SCRIPTS: dict[Language, DemoScript] = {"id": INDONESIAN, "en": ENGLISH}


def script_for(language: str) -> DemoScript:
    """Return the script in ``language`` (``"id"`` or ``"en"``)."""
    return SCRIPTS["en" if language == "en" else "id"]
