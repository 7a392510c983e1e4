import re

from pgtheory.report import render_report
from pgtheory.report import results_document
from pgtheory.verify import discover
from pgtheory.verify import select
from pgtheory.verify import verify

from conftest import CLAIMS_DIR


def test_report_is_self_contained_and_shows_every_claim():
    claims = select(discover([CLAIMS_DIR]), "score-zero-mean,is-identity")
    html = render_report(results_document(verify(claims, quick=True)))
    # nothing is fetched: no external scripts, styles, images or fonts
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert not re.search(r"<script[^>]*\bsrc=", html)  # an inline filter script only
    for c in claims:
        assert f'id="{c.id}"' in html
        assert c.sources[0].quote.replace('"', "&#34;") in html or c.sources[0].quote in html
    assert html.count("<svg") >= 2


def test_results_document_keeps_its_published_contract():
    """results.json is a contract: a real run validates against the shipped schema, and every
    statistical check keeps its numbers at the check level."""
    from pgtheory.report.results import strict_json
    from pgtheory.runs import schema_errors

    claims = select(discover([CLAIMS_DIR]), "001-score-zero-mean,001-traj-factorisation")
    document = strict_json(results_document(verify(claims, quick=True)))
    assert schema_errors(document, "results") == []
    checks = [e for c in document["claims"] for e in c["checks"]]
    mean_tests = [e for e in checks if e.get("figure") == "deviation"]
    assert mean_tests
    for e in mean_tests:
        assert {"estimate", "reference", "statistic", "p_value", "ci", "n"} <= set(e)
        assert {"false_alarm", "resolution", "seconds"} <= set(e)
    broken = {**document, "claims": [{**document["claims"][0], "verdict": "maybe"}]}
    assert schema_errors(broken, "results")


def test_a_training_run_document_round_trips():
    from pgtheory.runs import TrainingRun

    document = {
        "algo": "ppo",
        "env": "CartPole-v1",
        "device": "cpu",
        "max_steps": 100,
        "seeds": [
            {
                "seed": 0,
                "solved": True,
                "final_eval_return": 500.0,
                "curve": [[10, 0.5, 500.0]],
                "steps_to_solve": 10,
                "seconds_to_solve": 0.5,
            }
        ],
        "aggregate": {
            "solved_fraction": 1.0,
            "solved_fraction_ci": [0.025, 1.0],
            "final_eval_return": {"iqm": 500.0, "ci": None, "n": 1},
            "steps_to_solve": {"iqm": 10.0, "ci": None, "n": 1},
            "seconds_to_solve": {"iqm": 0.5, "ci": None, "n": 1},
        },
        "config": {"lr": 0.002},
    }
    run = TrainingRun.from_dict(document)
    assert run.extra == {"config": {"lr": 0.002}}
    assert TrainingRun.from_dict(run.to_dict()) == run
    assert {**run.to_dict(), "interrupted": False} == {**document, "interrupted": False}


def test_report_renders_math_a_table_of_contents_and_000s_published_figures(seeds):
    claims = select(discover([CLAIMS_DIR]), "001-score-zero-mean,000-fig2-R1-baseline")
    html = render_report(results_document(verify(claims, quick=True)))
    assert html.count("<math") == len(claims)  # one rendered statement per claim
    for anchor in re.findall(r'href="#([^"]+)"', html):
        assert f'id="{anchor}"' in html, anchor
    assert "Getting the hang of policy gradients" in html  # documents by their titles
    assert "data:image/png;base64," in html  # 000's figure 2, embedded


def _run(algo, finals, diagnostics=False):
    seeds = [
        {
            "seed": i,
            "solved": True,
            "final_eval_return": f,
            "curve": [[1000, 1.0, f], [2000, 2.0, f]],
            "steps_to_solve": 1000,
            "seconds_to_solve": 1.0,
            **(
                {
                    "diagnostics": [
                        {
                            "steps": 1000,
                            "approx_kl": 0.01,
                            "clip_fraction": 0.1,
                            "explained_variance": 0.5,
                            "entropy": 0.6,
                        }
                    ]
                }
                if diagnostics
                else {}
            ),
        }
        for i, f in enumerate(finals)
    ]
    return {
        "algo": algo,
        "env": "CartPole-v1",
        "device": "cpu",
        "max_steps": 2000,
        "seeds": seeds,
        "aggregate": {},
    }


def test_the_rl_section_compares_algorithms_as_rliable_recommends():
    from pgtheory.report.figures import performance_profiles
    from pgtheory.report.figures import update_diagnostics
    from pgtheory.report.html import _improvements

    runs = [
        _run("ppo", [500, 480, 490], diagnostics=True),
        _run("reinforce", [200, 300, 250]),
        _run("grpo", [100, 120]),
    ]
    improvements = {(p["x"], p["y"]): p for p in _improvements(runs, seed=0)}
    assert improvements[("ppo", "reinforce")]["estimate"] == 1.0
    assert improvements[("ppo", "reinforce")]["ci"] is not None
    assert improvements[("ppo", "grpo")]["ci"] is None  # two seeds: no interval
    assert performance_profiles(runs).startswith("<svg")
    assert update_diagnostics(runs).startswith("<svg")
    assert update_diagnostics(runs[1:]) is None
