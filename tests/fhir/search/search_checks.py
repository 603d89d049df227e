"""What a search parameter must and must not find, by its type and the data type of the value it indexes
(http://hl7.org/fhir/R4/search.html: string, token, date, reference, uri and quantity, with their modifiers and
prefixes). Every check runs against the sample resource search_samples made for the parameter."""

from __future__ import annotations

from dataclasses import dataclass

from fhir_server.fhir.search.registry import SearchParameter
from tests.fhir.search.search_samples import EXAMPLE, TEXT, UCUM, Sample, Value


@dataclass(frozen=True)
class Check:
    """``name=value`` must (``expected``) or must not find the sample."""

    name: str
    value: str
    expected: bool


def _both(code: str, hits: list[tuple[str, str]], misses: list[tuple[str, str]]) -> list[Check]:
    checks = [Check(code + modifier, value, True) for modifier, value in hits]
    return checks + [Check(code + modifier, value, False) for modifier, value in misses]


def string_checks(code: str, kind: str) -> list[Check]:
    """Default starts-with, case- and accent-insensitive; :exact; :contains (search.html#string)."""
    if code == "phonetic":
        return _both(code, [("", "Emil"), ("", "Zotrop")], [("", "Ahmed")])
    hits = [("", "emi"), ("", "EMILE"), ("", "Émile Zoë"), ("", "emile zoetrope"), (":exact", TEXT)]
    hits += [(":contains", "zoetr"), (":contains", "ILE ZO"), (":contains", "Émile")]
    misses = [("", "zoetrope"), ("", "Emile Zoetropes"), ("", "Ahmed"), (":exact", "emile zoetrope")]
    misses += [(":exact", "Émile"), (":contains", "Ahmed")]
    return _both(code, hits, misses)


def token_checks(code: str, value: Value) -> list[Check]:
    """code, system|code, |code, system|, :not, :text, :of-type (search.html#token), by the leaf's type."""
    facts = value.facts
    if value.kind == "Identifier":
        system, code_value = facts["system"], facts["value"]
        of_type = f"{facts['type_system']}|{facts['type_code']}"
        hits = [
            ("", code_value),
            ("", f"{system}|{code_value}"),
            ("", f"{system}|"),
            (":of-type", f"{of_type}|{code_value}"),
        ]
        hits += [(":text", "medical rec"), (":not", "other")]
        misses = [("", "other"), ("", f"{system}|other"), ("", f"|{code_value}"), ("", f"{EXAMPLE}/else|{code_value}")]
        misses += [(":of-type", f"{of_type}|other"), (":of-type", f"{facts['type_system']}|DL|{code_value}")]
        misses += [(":text", "driver"), (":not", code_value)]
        return _both(code, hits, misses)
    if value.kind in {"Coding", "CodeableConcept"}:
        system, code_value, other = facts["system"], facts["code"], facts["other"]
        hits = [("", code_value), ("", f"{system}|{code_value}"), ("", f"{system}|"), (":not", other)]
        hits += [(":text", facts["display"][:9].lower())]
        misses = [("", other), ("", f"{system}|{other}"), ("", f"|{code_value}"), ("", f"{EXAMPLE}/else|{code_value}")]
        misses += [(":not", code_value), (":text", "nothing like it")]
        if value.kind == "CodeableConcept":
            hits += [("", f"|{facts['local']}"), (":text", facts["text"].upper())]
        return _both(code, hits, misses)
    code_value, other = facts["code"], facts.get("other", "other")
    hits = [("", code_value), (":not", other)]
    misses = [("", other), (":not", code_value)]
    if value.kind == "code" and facts.get("system"):
        system = facts["system"]
        hits += [("", f"{system}|{code_value}"), ("", f"{system}|")]
        misses += [("", f"{system}|{other}"), ("", f"|{code_value}"), ("", f"{EXAMPLE}/else|{code_value}")]
    elif value.kind in {"code", "boolean", "string"}:
        hits += [("", f"|{code_value}")]
        misses += [("", f"{EXAMPLE}/else|{code_value}")]
    return _both(code, hits, misses)


DATE_HITS = ["2013", "2013-05", "2013-05-17", "eq2013", "ne2014", "gt2012", "lt2014", "ge2013-05-17", "le2013-05-17"]
DATE_HITS += ["sa2013-05-16", "eb2013-05-18", "ap2013-05-17"]
DATE_MISSES = ["2014", "2013-06", "2013-05-18", "ne2013-05-17", "gt2013-05-17", "lt2013-05-17", "ge2013-05-18"]
DATE_MISSES += ["le2013-05-16", "sa2013-05-17", "eb2013-05-17", "ap1950-01-01"]
"""Every value sample lies within 2013-05-17 (a date, an instant at 10:20:30Z, or a Period from 09:00 to 11:00)."""


def date_checks(code: str, kind: str) -> list[Check]:
    """Each precision (year, month, day, seconds, zone) and every prefix (search.html#date, #prefix)."""
    hits, misses = list(DATE_HITS), list(DATE_MISSES)
    if kind in {"dateTime", "instant"}:
        hits += ["2013-05-17T10:20:30Z", "2013-05-17T12:20:30+02:00", "2013-05-17T10:20", "ge2013-05-17T10:20:30Z"]
        misses += ["2013-05-17T10:20:31Z", "gt2013-05-17T10:20:30Z", "lt2013-05-17T10:20:30Z"]
    elif kind == "Period":
        hits += ["lt2013-05-17T10:00:00Z", "gt2013-05-17T10:00:00Z", "ne2013-05-17T10:00:00Z"]
        misses += ["2013-05-17T10:00:00Z", "sa2013-05-17T10:00:00Z", "eb2013-05-17T10:00:00Z"]
    else:
        misses += ["2013-05-17T10:20:30Z", "eq2013-05-17T00:00"]
    return [Check(code, v, True) for v in hits] + [Check(code, v, False) for v in misses]


def reference_checks(code: str, value: Value, param: SearchParameter, base_url: str) -> list[Check]:
    """id, Type/id, the absolute URL on the base, :Type, :identifier (search.html#reference); a canonical or
    another server's URL matches only as a whole."""
    if value.kind == "canonical" or "url" in value.facts:
        return _url_reference_checks(code, value, base_url)
    kind, target_id = value.facts["type"], value.facts["id"]
    identifier = f"{value.facts['system']}|{value.facts['value']}"
    hits = [("", target_id), ("", f"{kind}/{target_id}"), ("", f"{base_url}/{kind}/{target_id}")]
    hits += [(f":{kind}", target_id), (":identifier", identifier), (":identifier", value.facts["value"])]
    misses = [("", "nomatch"), ("", f"{kind}/nomatch"), ("", f"https://elsewhere.example.org/fhir/{kind}/{target_id}")]
    misses += [(":identifier", f"{value.facts['system']}|other")]
    others = [t for t in param.targets if t != kind]
    if others:
        misses += [(f":{others[0]}", target_id), ("", f"{others[0]}/{target_id}")]
    return _both(code, hits, misses)


def _url_reference_checks(code: str, value: Value, base_url: str) -> list[Check]:
    url = value.facts["url"]
    hits, misses = [("", url)], [("", url + "0"), ("", url.rsplit("/", 1)[0])]
    if "id" in value.facts:
        kind, target_id = value.facts["type"], value.facts["id"]
        hits += [(":identifier", f"{value.facts['system']}|{value.facts['value']}")]
        misses += [("", target_id), ("", f"{kind}/{target_id}"), ("", f"{base_url}/{kind}/{target_id}")]
    return _both(code, hits, misses)


def uri_checks(code: str, value: Value) -> list[Check]:
    """Exact match by default, :below and :above (search.html#uri)."""
    full, base = value.json, value.facts["base"]
    hits = [("", full), (":below", base), (":below", full), (":above", f"{full}/deeper/still"), (":above", full)]
    misses = [("", base + "/v1"), ("", full.upper()), (":below", f"{EXAMPLE}/other"), (":above", f"{base}/v2/item")]
    misses += [(":below", f"{full}/deeper")]
    return _both(code, hits, misses)


def quantity_checks(code: str) -> list[Check]:
    """number[|system|code] with prefixes; precision sets the implicit range (search.html#quantity, #number)."""
    hits = ["5.4", f"5.4|{UCUM}|mg", "5.4||mg", "5", "5.40", "gt5", "lt6", "ge5.4", "le5.4", "ne5.3", "ap5", "eq5.4"]
    misses = ["6", "5.3", "5.40001", f"5.4|{UCUM}|g", "5.4||kg", "gt5.4", "lt5.4", "ge5.5", "le5.3", "ne5.4", "ap9"]
    return [Check(code, v, True) for v in hits] + [Check(code, v, False) for v in misses]


def checks_for(sample: Sample, base_url: str) -> list[Check]:
    """Every search that must, or must not, find ``sample``'s resource."""
    param, value = sample.param, sample.value
    checks = [Check(f"{param.code}:missing", "false", True), Check(f"{param.code}:missing", "true", False)]
    if param.type == "string":
        return checks + string_checks(param.code, value.kind)
    if param.type == "token":
        return checks + token_checks(param.code, value)
    if param.type == "date":
        return checks + date_checks(param.code, value.kind)
    if param.type == "reference":
        return checks + reference_checks(param.code, value, param, base_url)
    if param.type == "uri":
        return checks + uri_checks(param.code, value)
    if param.type == "quantity":
        return checks + quantity_checks(param.code)
    raise AssertionError(f"no checks for {param.type} parameters")
