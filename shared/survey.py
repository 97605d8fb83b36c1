"""The Survei Kepuasan Masyarakat (SKM) questionnaire of PermenPANRB 14/2017, versioned.

A cross-service contract: intake checks a reporter's answers against it, routing carries the
answers on `SurveySubmitted`, sla turns them into the Indeks Kepuasan Masyarakat (IKM,
services/sla/domain/ikm.py). The version id travels with every answer and is part of sla's counter
field names, so a new edition of the questionnaire (other elements, other wording) gets a new id
and is never summed with an older one. Ids have no dots (they name stored fields).

This is not the 1–5 rating a reporter gives when closing a complaint (`GiveFeedback`): that one is
"kepuasan atas penanganan pengaduan" and is never called IKM.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from pydantic import BaseModel, ConfigDict, Field


@dataclass(frozen=True)
class Element:
    code: str  # u1 … u9, the regulation's unsur numbering
    name: str
    question: str


@dataclass(frozen=True)
class Questionnaire:
    version: str
    title: str
    elements: tuple[Element, ...]
    scale: tuple[str, ...]  # the label of each score, 1 first

    @cached_property  # read for every counter document a report or the public page adds up
    def codes(self) -> tuple[str, ...]:
        return tuple(e.code for e in self.elements)

    @property
    def top(self) -> int:
        return len(self.scale)


# The nine elements (unsur) of PermenPANRB 14/2017, Lampiran, each scored 1–4.
SKM_2017 = Questionnaire(
    version="skm-2017-1",
    title="Survei Kepuasan Masyarakat (PermenPANRB Nomor 14 Tahun 2017)",
    elements=(
        Element(
            "u1",
            "Persyaratan",
            "Bagaimana pendapat Saudara tentang kesesuaian persyaratan pelayanan dengan jenis pelayanannya?",
        ),
        Element(
            "u2",
            "Sistem, mekanisme, dan prosedur",
            "Bagaimana pemahaman Saudara tentang kemudahan prosedur pelayanan di unit ini?",
        ),
        Element(
            "u3",
            "Waktu penyelesaian",
            "Bagaimana pendapat Saudara tentang kecepatan waktu dalam memberikan pelayanan?",
        ),
        Element(
            "u4", "Biaya/tarif", "Bagaimana pendapat Saudara tentang kewajaran biaya/tarif dalam pelayanan?"
        ),
        Element(
            "u5",
            "Produk spesifikasi jenis pelayanan",
            (
                "Bagaimana pendapat Saudara tentang kesesuaian produk pelayanan antara yang tercantum "
                "dalam standar pelayanan dengan hasil yang diberikan?"
            ),
        ),
        Element(
            "u6",
            "Kompetensi pelaksana",
            "Bagaimana pendapat Saudara tentang kompetensi/kemampuan petugas dalam pelayanan?",
        ),
        Element(
            "u7",
            "Perilaku pelaksana",
            (
                "Bagaimana pendapat Saudara tentang perilaku petugas dalam pelayanan terkait "
                "kesopanan dan keramahan?"
            ),
        ),
        Element(
            "u8",
            "Penanganan pengaduan, saran dan masukan",
            "Bagaimana pendapat Saudara tentang kualitas penanganan pengaduan, saran dan masukan?",
        ),
        Element(
            "u9", "Sarana dan prasarana", "Bagaimana pendapat Saudara tentang kualitas sarana dan prasarana?"
        ),
    ),
    scale=("Tidak baik", "Kurang baik", "Baik", "Sangat baik"),
)

QUESTIONNAIRES: dict[str, Questionnaire] = {SKM_2017.version: SKM_2017}
CURRENT = SKM_2017


def problems(version: str, scores: dict[str, int]) -> list[tuple[str, str]]:
    """(field, reason) for each way `scores` does not answer questionnaire `version`: every
    element exactly once, each an integer from 1 to the scale's top."""
    questionnaire = QUESTIONNAIRES.get(version)
    if questionnaire is None:
        known = ", ".join(QUESTIONNAIRES)
        return [("version", f"versi kuesioner tidak dikenal; yang berlaku: {known}")]
    found: list[tuple[str, str]] = []
    for code in questionnaire.codes:
        value = scores.get(code)
        if value is None:
            found.append((f"answers.{code}", "wajib diisi"))
        elif isinstance(value, bool) or not 1 <= value <= questionnaire.top:
            found.append((f"answers.{code}", f"bilangan bulat 1–{questionnaire.top}"))
    found += [
        (f"answers.{code}", "bukan unsur kuesioner ini")
        for code in sorted(set(scores) - set(questionnaire.codes))
    ]
    return found


class QuestionnaireElement(BaseModel):
    model_config = ConfigDict(frozen=True)
    code: str
    name: str
    question: str


class QuestionnaireDoc(BaseModel):
    """The questionnaire as a client shows it."""

    model_config = ConfigDict(frozen=True)
    version: str
    title: str
    elements: list[QuestionnaireElement]
    scale: dict[str, str] = Field(description="score → its label")

    @classmethod
    def of(cls, q: Questionnaire) -> QuestionnaireDoc:
        return cls(
            version=q.version,
            title=q.title,
            elements=[
                QuestionnaireElement(code=e.code, name=e.name, question=e.question) for e in q.elements
            ],
            scale={str(n): label for n, label in enumerate(q.scale, 1)},
        )
