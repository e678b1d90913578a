r"""A corpus of realistic proposer outputs, each with the intervention the parser must read back.

A proposer is shown a problem, a reference solution and a failed attempt split into numbered
substeps. It verifies the attempt substep by substep, names the first critical error, writes a
DRAFT ``<intervention>``, self-checks it (does it give away the answer? miss a key insight? sit
later than the error?), revises, and ends with the FINAL block
``<intervention>{"content": "...", "location": N}</intervention>``, or an empty intervention when
it finds no critical error.

Every ``text`` is exactly what a model emits (raw strings: backslashes as written). ``expected``
is what :func:`int_exp.interventions.parse_intervention_reason` must return under the parser's
rules (the FINAL block is authoritative; lenient near-JSON; the last complete object with a
``content`` key wins; repeated keys: the last value wins; LaTeX-aware backslash decoding; the
first step named in a location string), or None with the ``reason``. ``ambiguous_ok`` marks the
few outputs where a rejection would also be acceptable (``expected`` is then the best reading).

``CASES``: a list of dicts {"id", "text", "num_steps", "expected", "reason", "ambiguous_ok"}.
"""

from __future__ import annotations

CASES: list[dict] = []


def ok(content: str, location: int) -> dict:
    return {"content": content, "location": location}


def add(id: str, text: str, num_steps: int, expected: dict | None = None, reason: str | None = None,
        ambiguous_ok: bool = False) -> None:
    if reason is None:
        if expected is None:
            raise ValueError(f"{id}: a None expectation needs its reason")
        reason = "ok"
    CASES.append({"id": id, "text": text, "num_steps": num_steps, "expected": expected, "reason": reason,
                  "ambiguous_ok": ambiguous_ok})


# =============================================================================================
# Verification logs (what the proposer writes before its intervention), one per problem.
# None of them holds an <intervention> tag.
# =============================================================================================

# Algebra: sum of the squares of the roots of x^2 - 5x + 3 = 0 (answer 19). 3 substeps, error in 2.
VIETA = r"""**Verification of the attempt**

**Substep 1:** "By Vieta's formulas, $r + s = 5$ and $rs = 3$."
For $x^2 - 5x + 3 = 0$ we have $r + s = -(-5)/1 = 5$ and $rs = 3/1 = 3$. Correct.

**Substep 2:** "Then $r^2 + s^2 = (r+s)^2 + 2rs = 25 + 6 = 31$."
This is wrong. The identity is $(r+s)^2 = r^2 + 2rs + s^2$, so $r^2 + s^2 = (r+s)^2 - 2rs$. The student added $2rs$ instead of subtracting it. This is a critical error: the final answer depends on it and it is never corrected.

**Substep 3:** "So the answer is $\boxed{31}$."
This follows from Substep 2, so it is not the first error.

**First critical error:** Substep 2 (sign error in the identity for $r^2 + s^2$).
"""

# Geometry: inradius of the right triangle with legs 6 and 8 (answer 2). 4 substeps, error in 2.
INRADIUS = r"""Let me verify the student's attempt against the reference solution, which uses $r = \frac{a + b - c}{2}$ for a right triangle (equivalently $r = A/s$).

**Substep 1:** "The hypotenuse is $\sqrt{6^2 + 8^2} = \sqrt{100} = 10$."
Correct: $36 + 64 = 100$.

**Substep 2:** "The area is $6 \times 8 = 48$."
Incorrect. The area of a right triangle is $\frac{1}{2} \cdot 6 \cdot 8 = 24$. The student forgot the factor $\frac{1}{2}$.

**Substep 3:** "The semiperimeter is $s = \frac{6 + 8 + 10}{2} = 12$."
Correct.

**Substep 4:** "So $r = \frac{A}{s} = \frac{48}{12} = 4$, and the answer is $\boxed{4}$."
The formula $r = A/s$ is right, but it uses the wrong area from Substep 2.

The first critical error is in Substep 2: the area is doubled, and this is never fixed.
"""

# Number theory: the remainder of 7^2023 divided by 10 (answer 3). 4 substeps, error in 2.
MOD10 = r"""## Step-by-step verification

**Substep 1:** "The last digits of $7^1, 7^2, 7^3, 7^4$ are $7, 9, 3, 1$, so the last digit repeats with period 4."
Correct: $7^2 = 49$, $7^3 = 343$, $7^4 = 2401$.

**Substep 2:** "Since $2023 = 4 \cdot 505 + 1$, the exponent leaves remainder 1 when divided by 4."
Wrong: $4 \cdot 505 = 2020$, so $2023 = 4 \cdot 505 + 3$ and the remainder is 3, not 1.

**Substep 3:** "Therefore $7^{2023} \equiv 7^1 \equiv 7 \pmod{10}$."
Follows from the wrong remainder.

**Substep 4:** "The remainder is $\boxed{7}$."
Wrong final answer, a consequence of Substep 2.

So the first critical error is the division $2023 \div 4$ in Substep 2.
"""

# Combinatorics: seatings of 5 people around a round table (answer 24). 3 substeps, error in 2.
ROUND = r"""I'll check each substep.

**Substep 1:** "If the seats were in a row, there would be $5! = 120$ arrangements."
Correct.

**Substep 2:** "Around a round table, rotations and reflections give the same seating, so we divide by $2 \cdot 5 = 10$."
This is the problem. In the standard convention (and in the reference solution) only rotations are identified: two seatings that are mirror images are different, because each person's left and right neighbours change. We should divide by 5 only.

**Substep 3:** "So there are $\frac{120}{10} = 12$ ways, and the answer is $\boxed{12}$."
Follows from Substep 2.

First critical error: Substep 2.
"""

# Probability: two dice, P(sum = 7) (answer 1/6). 3 substeps, error in 2.
DICE = r"""Verification:

- Substep 1: "There are $6 \times 6 = 36$ equally likely outcomes." -- correct.
- Substep 2: "The pairs that sum to 7 are $(1,6)$, $(2,5)$, $(3,4)$, so there are 3 favourable outcomes." -- incorrect. The outcomes are ordered pairs (first die, second die), so $(6,1)$, $(5,2)$, $(4,3)$ also count; there are 6 favourable outcomes.
- Substep 3: "The probability is $\frac{3}{36} = \frac{1}{12}$." -- follows from the undercount.

The first critical error is Substep 2: the student counted unordered pairs while the sample space of 36 outcomes is ordered.
"""

# Probability: two coin flips, P(at least one head) (answer 3/4). 3 substeps, error in 2.
COINS = r"""Let me verify the attempt.

**Substep 1:** "The outcomes of two flips are HH, HT, TH and TT, all equally likely."
Correct.

**Substep 2:** "The outcomes with at least one head are HH and HT, so 2 outcomes."
Incorrect: TH also has a head (on the second flip). The student only looked at the first coin.

**Substep 3:** "So the probability is $\frac{2}{4} = \frac{1}{2}$."
Follows from Substep 2.

The first critical error is Substep 2: the favourable outcomes are undercounted.
"""

# GSM8K: Janet's ducks (answer 18). 4 substeps, error in 2.
DUCKS = r"""Let me go through the student's solution.

**Substep 1:** "Janet's ducks lay 16 eggs per day."
Correct, this is given.

**Substep 2:** "She eats 3 eggs for breakfast and uses 4 for muffins, so she uses 3 x 4 = 12 eggs every day."
Incorrect. The eggs she eats and the eggs she bakes with should be added, 3 + 4 = 7, not multiplied.

**Substep 3:** "That leaves 16 - 12 = 4 eggs to sell."
The subtraction is right but it uses the wrong number from Substep 2.

**Substep 4:** "At $2 per egg she makes 4 x 2 = $8 per day."
Consequence of Substep 2.

**Conclusion:** the first critical error is in Substep 2.
"""

# GSM8K: a robe takes 2 bolts of blue fiber and half that much white fiber (answer 3). 3 substeps, error in 2.
ROBE = r"""Checking the attempt:

**Substep 1:** "The robe takes 2 bolts of blue fiber." Correct.

**Substep 2:** "It takes half that much white fiber, so 2 x 2 = 4 bolts of white fiber." Incorrect: half of 2 bolts is 2 / 2 = 1 bolt. The student doubled instead of halving.

**Substep 3:** "In total 2 + 4 = 6 bolts." Follows from Substep 2.

The first (and only) critical error is Substep 2.
"""

# Calculus: the integral of 2x cos(x^2) from 0 to 1 (answer sin 1). 4 substeps, error in 3.
INTEGRAL = r"""### Verification

**Substep 1:** "Let $u = x^2$, so $du = 2x\,dx$."
Correct, and this is the substitution used in the reference solution.

**Substep 2:** "When $x = 0$, $u = 0$; when $x = 1$, $u = 1$, so the integral becomes $\int_0^1 \cos u \, du$."
Correct.

**Substep 3:** "An antiderivative of $\cos u$ is $-\sin u$."
Incorrect: $\frac{d}{du}\sin u = \cos u$, so the antiderivative is $\sin u$. The sign is wrong ($-\sin u$ is the antiderivative of $-\cos u$).

**Substep 4:** "So the integral is $-\sin 1 + \sin 0 = -\sin 1$."
Follows from Substep 3.

The first critical error is in Substep 3.
"""

# Algebra: solve |2x - 3| < 5 (answer -1 < x < 4). 3 substeps, error in 2.
ABS = r"""**Substep 1:** "$|2x - 3| < 5$ means $-5 < 2x - 3 < 5$." -- Correct.

**Substep 2:** "Subtracting 3 from all parts gives $-8 < 2x < 2$." -- Incorrect. To isolate $2x$ we must ADD 3 to all three parts: $-2 < 2x < 8$.

**Substep 3:** "Dividing by 2, $-4 < x < 1$." -- The division is fine, but it inherits the error.

First critical error: Substep 2.
"""

# Geometry: the area of the circle inscribed in a square of side 10 (answer 25 pi). 3 substeps, error in 2.
CIRCLE = r"""Let me verify.

**Substep 1:** "The circle inscribed in the square touches all four sides, so its diameter equals the side length, 10."
Correct.

**Substep 2:** "So the radius is 10."
Incorrect: the radius is half the diameter, $r = 5$.

**Substep 3:** "The area is $\pi r^2 = 100\pi$."
Uses the wrong radius.

The first critical error is Substep 2.
"""

# Number theory: the number of positive divisors of 360 (answer 24). 3 substeps, error in 2.
DIVISORS = r"""**Checking Substep 1:** "$360 = 2^3 \cdot 3^2 \cdot 5$." Correct: $8 \cdot 9 \cdot 5 = 360$.

**Checking Substep 2:** "The number of divisors is the product of the exponents, $3 \cdot 2 \cdot 1 = 6$." Incorrect. A divisor is $2^a 3^b 5^c$ with $0 \le a \le 3$, $0 \le b \le 2$, $0 \le c \le 1$, so each exponent contributes (exponent + 1) choices.

**Checking Substep 3:** "So 360 has $\boxed{6}$ divisors." Follows from Substep 2.

The first critical error is in Substep 2.
"""

# Combinatorics: committees of 3 out of 8 people (answer 56). 2 substeps, error in 1.
COMMITTEE = r"""Verification of the attempt:

**Substep 1:** "We choose the first member in 8 ways, the second in 7 ways and the third in 6 ways, so there are $8 \cdot 7 \cdot 6 = 336$ committees."
Incorrect. A committee is an unordered set, so each committee has been counted $3! = 6$ times. The reference solution uses $\binom{8}{3}$.

**Substep 2:** "The answer is $\boxed{336}$."
Follows from Substep 1.

The first critical error is Substep 1.
"""

# Probability: 4 red and 6 blue balls, two drawn without replacement, P(both red) (answer 2/15). 3 substeps, error in 2.
BALLS = r"""Let me check the attempt step by step.

**Substep 1:** "The probability that the first ball is red is $\frac{4}{10}$." Correct.

**Substep 2:** "The probability that the second ball is red is also $\frac{4}{10}$." Incorrect. The draws are without replacement: after one red ball is removed, 3 red balls remain among 9, so the conditional probability is $\frac{3}{9}$.

**Substep 3:** "So the probability is $\frac{4}{10} \cdot \frac{4}{10} = \frac{16}{100} = \frac{4}{25}$." Follows from Substep 2.

The first critical error is Substep 2.
"""

# Trigonometry: theta in [0, pi) with tan(theta) = sqrt(3) (answer pi/3). 3 substeps, error in 2.
TAN = r"""**Substep 1:** "We need $\tan\theta = \sqrt{3}$ with $0 \le \theta < \pi$."
Correct restatement.

**Substep 2:** "Since $\tan\frac{\pi}{6} = \sqrt{3}$, $\theta = \frac{\pi}{6}$."
Incorrect: $\tan\frac{\pi}{6} = \frac{\sin(\pi/6)}{\cos(\pi/6)} = \frac{1/2}{\sqrt{3}/2} = \frac{1}{\sqrt{3}}$, not $\sqrt{3}$.

**Substep 3:** "So $\theta = \frac{\pi}{6}$."
Follows from Substep 2.

The first critical error is Substep 2.
"""

# Multivariable calculus: the gradient of x^2 y + y^3 at (1, 2) (answer (4, 13)). 3 substeps, error in 2.
GRAD = r"""Verification.

**Substep 1:** "$\frac{\partial f}{\partial x} = 2xy$." Correct.

**Substep 2:** "$\frac{\partial f}{\partial y} = x^2 + y^2$." Incorrect: $\frac{\partial}{\partial y} y^3 = 3y^2$, so $f_y = x^2 + 3y^2$.

**Substep 3:** "At $(1, 2)$, $\nabla f = (4, 1 + 4) = (4, 5)$." Follows from Substep 2.

First critical error: Substep 2.
"""

# Sequences: the sum of the first 20 positive odd integers (answer 400). 3 substeps, error in 2.
ODD = r"""**Substep 1:** "The first 20 positive odd integers are $1, 3, 5, \dots, 39$." Correct: the $n$-th odd number is $2n - 1$, and $2 \cdot 20 - 1 = 39$.

**Substep 2:** "Their sum is $n(n+1) = 20 \cdot 21 = 420$." Incorrect: $n(n+1)$ is the sum of the first $n$ even numbers. The sum of the first $n$ odd numbers is $n^2$ (e.g. $1 + 3 = 4 = 2^2$).

**Substep 3:** "So the sum is $\boxed{420}$." Follows from Substep 2.

The first critical error is Substep 2.
"""

# GSM8K: 3 notebooks at $4 and 2 pens at $1.50, paid with $20 (answer 5). 4 substeps, error in 2.
SHOP = r"""Going through the attempt:

Substep 1: "The notebooks cost 3 x $4 = $12." Correct.
Substep 2: "The pens cost 2 x $1.50 = $2.50." Incorrect: 2 x 1.50 = 3.00.
Substep 3: "In total he spends $12 + $2.50 = $14.50." Follows from Substep 2.
Substep 4: "His change is $20 - $14.50 = $5.50." Follows from Substep 2.

The first critical error is the multiplication in Substep 2.
"""

# Number theory: solve 3x = 4 (mod 7) (answer 6). 3 substeps, error in 1.
INVERSE = r"""**Substep 1:** "The inverse of 3 modulo 7 is 2." Incorrect: $3 \cdot 2 = 6 \not\equiv 1 \pmod 7$. The inverse is 5, since $3 \cdot 5 = 15 = 2 \cdot 7 + 1$.

**Substep 2:** "Multiplying both sides by 2: $x \equiv 8 \equiv 1 \pmod 7$." Follows from the wrong inverse.

**Substep 3:** "Check: $3 \cdot 1 = 3$... so the answer is $x \equiv 1$." The check actually fails ($3 \not\equiv 4$), but the student ignores it.

The first critical error is Substep 1.
"""

# Geometry: triangle 13-14-15, the altitude to BC (answer 12). 6 substeps, error in 3.
HERON = r"""I'll verify each of the six substeps.

**Substep 1:** "The semiperimeter is $s = \frac{13 + 14 + 15}{2} = 21$." Correct.

**Substep 2:** "By Heron's formula the area is $\sqrt{21 \cdot 8 \cdot 7 \cdot 6} = \sqrt{7056} = 84$." Correct: $21 \cdot 8 \cdot 7 \cdot 6 = 7056 = 84^2$.

**Substep 3:** "The altitude to $BC$ is $h = \frac{\text{Area}}{BC}$." Incorrect: Area $= \frac{1}{2} \cdot BC \cdot h$, so $h = \frac{2 \cdot \text{Area}}{BC}$. The factor 2 is missing.

**Substep 4:** "So $h = \frac{84}{14} = 6$." Arithmetic is right, formula is wrong.

**Substep 5:** "As a check, $h = 6 < 13$, which is reasonable." This check cannot detect the error.

**Substep 6:** "The altitude is $\boxed{6}$." Consequence of Substep 3.

The first critical error is Substep 3.
"""

# The format lines of the proposer's prompt, which small models echo back.
FORMAT_LINE = r"""<intervention>{"content": "the step the student should write instead", "location": N}</intervention>"""
EMPTY_LINE = r"""<intervention>{"content": "", "location": 0}</intervention>"""


# =============================================================================================
# 1. One clean final block after the verification log.
# =============================================================================================

add("clean-vieta", VIETA + r"""
**Intervention.** I'll write it as the student's own next step.

<intervention>{"content": "Wait, I should double-check that identity. Since $(r+s)^2 = r^2 + 2rs + s^2$, I have to subtract $2rs$, not add it: $r^2 + s^2 = (r+s)^2 - 2rs$.", "location": 2}</intervention>""",
    3, ok(r"Wait, I should double-check that identity. Since $(r+s)^2 = r^2 + 2rs + s^2$, I have to subtract $2rs$, not add it: $r^2 + s^2 = (r+s)^2 - 2rs$.", 2))

add("clean-inradius-latex", INRADIUS + r"""
Self-check: the intervention below does not mention the final answer 2; it only fixes the area.

<intervention>{"content": "Hmm, the area of a right triangle is half the product of the legs, so I need $A = \frac{1}{2} \cdot 6 \cdot 8$ rather than $6 \times 8$.", "location": 2}</intervention>""",
    4, ok(r"Hmm, the area of a right triangle is half the product of the legs, so I need $A = \frac{1}{2} \cdot 6 \cdot 8$ rather than $6 \times 8$.", 2))

add("clean-mod10", MOD10 + r"""
<intervention>{"content": "Let me redo this division carefully: $4 \cdot 505 = 2020$, so $2023 = 2020 + 3$ and the exponent leaves remainder 3 when divided by 4.", "location": 2}</intervention>""",
    4, ok(r"Let me redo this division carefully: $4 \cdot 505 = 2020$, so $2023 = 2020 + 3$ and the exponent leaves remainder 3 when divided by 4.", 2))

add("clean-round-apostrophe", ROUND + r"""
The intervention should explain why reflections are not identified, without computing the count.

<intervention>{"content": "Wait, mirror-image seatings are actually different here, since each person's neighbours on the left and right swap. Only rotations give the same seating, so I should divide $5!$ by 5 only.", "location": 2}</intervention>""",
    3, ok(r"Wait, mirror-image seatings are actually different here, since each person's neighbours on the left and right swap. Only rotations give the same seating, so I should divide $5!$ by 5 only.", 2))

add("clean-dice", DICE + r"""
<intervention>{"content": "But the dice are distinguishable, so $(1,6)$ and $(6,1)$ are different outcomes. I need to count ordered pairs: each of $(1,6)$, $(2,5)$, $(3,4)$ also appears reversed.", "location": 2}</intervention>""",
    3, ok(r"But the dice are distinguishable, so $(1,6)$ and $(6,1)$ are different outcomes. I need to count ordered pairs: each of $(1,6)$, $(2,5)$, $(3,4)$ also appears reversed.", 2))

add("clean-ducks-gsm8k", DUCKS + r"""
Intervention (replacing Substep 2):

<intervention>{"content": "She eats 3 eggs and bakes with 4 more, so the eggs she uses are 3 + 4 = 7 in total, not 3 x 4.", "location": 2}</intervention>""",
    4, ok("She eats 3 eggs and bakes with 4 more, so the eggs she uses are 3 + 4 = 7 in total, not 3 x 4.", 2))

add("clean-robe-gsm8k", ROBE + r"""
<intervention>{"content": "Half as much white fiber as 2 bolts means 2 / 2 = 1 bolt of white fiber.", "location": 2}</intervention>""",
    3, ok("Half as much white fiber as 2 bolts means 2 / 2 = 1 bolt of white fiber.", 2))

add("clean-circle", CIRCLE + r"""
<intervention>{"content": "The radius is half of the diameter, so r = 10 / 2 = 5.", "location": 2}</intervention>""",
    3, ok("The radius is half of the diameter, so r = 10 / 2 = 5.", 2))

add("clean-heron-six-steps", HERON + r"""
<intervention>{"content": "Since the area is $\frac{1}{2} \cdot BC \cdot h$, solving for the altitude gives $h = \frac{2 \cdot \text{Area}}{BC}$.", "location": 3}</intervention>""",
    6, ok(r"Since the area is $\frac{1}{2} \cdot BC \cdot h$, solving for the altitude gives $h = \frac{2 \cdot \text{Area}}{BC}$.", 3))

add("clean-committee-location-1", COMMITTEE + r"""
<intervention>{"content": "Wait, the order in which I pick the members does not matter for a committee, so each group of 3 is counted $3!$ times. I should use $\binom{8}{3}$ instead.", "location": 1}</intervention>""",
    2, ok(r"Wait, the order in which I pick the members does not matter for a committee, so each group of 3 is counted $3!$ times. I should use $\binom{8}{3}$ instead.", 1))

add("clean-inverse-location-1", INVERSE + r"""
<intervention>{"content": "Let me find the inverse of 3 mod 7 by checking: $3 \cdot 5 = 15 \equiv 1 \pmod 7$, so the inverse is 5, not 2.", "location": 1}</intervention>""",
    3, ok(r"Let me find the inverse of 3 mod 7 by checking: $3 \cdot 5 = 15 \equiv 1 \pmod 7$, so the inverse is 5, not 2.", 1))

add("clean-escaped-inner-quotes", ROBE + r"""
<intervention>{"content": "The problem says \"half that much\", so the white fiber is half of the blue fiber: 2 / 2 = 1 bolt.", "location": 2}</intervention>""",
    3, ok('The problem says "half that much", so the white fiber is half of the blue fiber: 2 / 2 = 1 bolt.', 2))

add("clean-doubled-backslashes", TAN + r"""
<intervention>{"content": "Since $\\tan\\frac{\\pi}{6} = \\frac{1}{\\sqrt{3}}$, the angle $\\frac{\\pi}{6}$ does not work; I need the angle whose tangent is $\\sqrt{3}$.", "location": 2}</intervention>""",
    3, ok(r"Since $\tan\frac{\pi}{6} = \frac{1}{\sqrt{3}}$, the angle $\frac{\pi}{6}$ does not work; I need the angle whose tangent is $\sqrt{3}$.", 2))

add("clean-odd-sum", ODD + r"""
<intervention>{"content": "The formula $n(n+1)$ is for even numbers. For odd numbers, $1 = 1^2$, $1 + 3 = 2^2$, $1 + 3 + 5 = 3^2$, so the sum of the first $n$ odd numbers is $n^2$.", "location": 2}</intervention>""",
    3, ok("The formula $n(n+1)$ is for even numbers. For odd numbers, $1 = 1^2$, $1 + 3 = 2^2$, $1 + 3 + 5 = 3^2$, so the sum of the first $n$ odd numbers is $n^2$.", 2))

add("clean-abs", ABS + r"""
<intervention>{"content": "To isolate $2x$ I have to add 3 to all three parts, not subtract it: $-5 + 3 < 2x < 5 + 3$.", "location": 2}</intervention>""",
    3, ok("To isolate $2x$ I have to add 3 to all three parts, not subtract it: $-5 + 3 < 2x < 5 + 3$.", 2))

add("clean-grad-partial", GRAD + r"""
<intervention>{"content": "Differentiating $y^3$ with respect to $y$ gives $3y^2$, so $\frac{\partial f}{\partial y} = x^2 + 3y^2$.", "location": 2}</intervention>""",
    3, ok(r"Differentiating $y^3$ with respect to $y$ gives $3y^2$, so $\frac{\partial f}{\partial y} = x^2 + 3y^2$.", 2))

add("clean-balls", BALLS + r"""
<intervention>{"content": "Since the first red ball is not put back, only 3 red balls remain among 9, so the second probability is $\frac{3}{9}$.", "location": 2}</intervention>""",
    3, ok(r"Since the first red ball is not put back, only 3 red balls remain among 9, so the second probability is $\frac{3}{9}$.", 2))

add("clean-shop-gsm8k-dollar", SHOP + r"""
<intervention>{"content": "2 pens at $1.50 each cost 2 x 1.50 = 3.00 dollars, not 2.50.", "location": 2}</intervention>""",
    4, ok("2 pens at $1.50 each cost 2 x 1.50 = 3.00 dollars, not 2.50.", 2))

add("clean-coins", COINS + r"""
<intervention>{"content": "Wait, TH also has a head, on the second flip. I need every outcome with at least one H, not only those starting with H.", "location": 2}</intervention>""",
    3, ok("Wait, TH also has a head, on the second flip. I need every outcome with at least one H, not only those starting with H.", 2))


# =============================================================================================
# 2. A draft, a self-check, then a revised FINAL block: the final one is read, never the draft.
# =============================================================================================

add("draft-leak-vieta", VIETA + r"""
**Draft intervention:**

<intervention>{"content": "The identity is $r^2 + s^2 = (r+s)^2 - 2rs = 25 - 6 = 19$, so the answer is 19.", "location": 2}</intervention>

**Self-check:**
1. Does it contain the answer $19$? Yes -- it states the final answer outright. Revise.
2. Does it miss a key insight? No, it fixes the sign.
3. Is the location later than the error? No, it replaces Substep 2 where the error is.

**Revised (final) intervention:**

<intervention>{"content": "Wait, $(r+s)^2 = r^2 + 2rs + s^2$, so to get $r^2 + s^2$ I must subtract $2rs$ from $(r+s)^2$, not add it.", "location": 2}</intervention>""",
    3, ok("Wait, $(r+s)^2 = r^2 + 2rs + s^2$, so to get $r^2 + s^2$ I must subtract $2rs$ from $(r+s)^2$, not add it.", 2))

add("draft-leak-coins-frac", COINS + r"""
Draft:
<intervention>{"content": "TH also has a head, so 3 of the 4 outcomes work and the probability is $\frac{3}{4}$.", "location": 2}</intervention>

Self-check: 1. Does it contain the answer $\frac{3}{4}$? Yes -> revise. 2. Does it miss a key insight? No. 3. Is the location later than the error? No.

Final:
<intervention>{"content": "Wait, TH has a head too, on the second coin. Let me list again every outcome that contains at least one H.", "location": 2}</intervention>""",
    3, ok("Wait, TH has a head too, on the second coin. Let me list again every outcome that contains at least one H.", 2))

add("draft-leak-mod10", MOD10 + r"""
First attempt at an intervention:

<intervention>{"content": "Since $2023 = 4 \cdot 505 + 3$, we get $7^{2023} \equiv 7^3 \equiv 3 \pmod{10}$.", "location": 2}</intervention>

Self-check:
1. Does it contain the answer $3$? Yes, it computes the final remainder. I must remove the last part.
2. Does it miss a key insight? No.
3. Is the location later than the error? No.

Revised intervention:

<intervention>{"content": "Let me recompute the remainder: $4 \times 505 = 2020$, so $2023 = 4 \times 505 + 3$, which means the exponent leaves remainder 3, not 1.", "location": 2}</intervention>""",
    4, ok(r"Let me recompute the remainder: $4 \times 505 = 2020$, so $2023 = 4 \times 505 + 3$, which means the exponent leaves remainder 3, not 1.", 2))

add("draft-location-too-late-inradius", INRADIUS + r"""
Draft intervention:

<intervention>{"content": "The area should be $\frac{1}{2} \cdot 6 \cdot 8$, so $r = \frac{A}{s}$ uses half of 48.", "location": 4}</intervention>

Self-check:
1. Does it contain the answer $2$? Not directly.
2. Does it miss a key insight? Somewhat: it does not say why the area is halved.
3. Is the location later than the error? Yes: the error is in Substep 2 but my draft replaces Substep 4. By then the wrong area has already been used. Move it to Substep 2.

Final intervention:

<intervention>{"content": "Wait, the two legs are the base and the height, and a triangle's area is half of base times height, so the area is $\frac{1}{2} \cdot 6 \cdot 8$, not $6 \cdot 8$.", "location": 2}</intervention>""",
    4, ok(r"Wait, the two legs are the base and the height, and a triangle's area is half of base times height, so the area is $\frac{1}{2} \cdot 6 \cdot 8$, not $6 \cdot 8$.", 2))

add("draft-missing-insight-round", ROUND + r"""
<intervention>{"content": "I should divide by 5 instead of 10.", "location": 2}</intervention>

Self-check:
1. Does it contain the answer 24? No.
2. Does it miss a key insight? Yes: it does not say WHY reflections are not identified, so the student may not believe it. Revise.
3. Is the location later than the error? No.

<intervention>{"content": "Hold on: a reflection reverses who sits on each person's left and right, so a seating and its mirror image are different seatings. Only the 5 rotations of a seating are the same, so I divide by 5, not by 10.", "location": 2}</intervention>""",
    3, ok("Hold on: a reflection reverses who sits on each person's left and right, so a seating and its mirror image are different seatings. Only the 5 rotations of a seating are the same, so I divide by 5, not by 10.", 2))

add("draft-three-rounds-dice", DICE + r"""
Draft 1:
<intervention>{"content": "There are 6 ordered pairs, so the probability is 6/36 = 1/6.", "location": 2}</intervention>
Self-check: contains the answer $\frac{1}{6}$. Revise.

Draft 2:
<intervention>{"content": "There are 6 ordered pairs that sum to 7.", "location": 3}</intervention>
Self-check: no answer, but the location (3) is later than the error (2). Revise.

Final:
<intervention>{"content": "Wait, the two dice are different, so $(1,6)$ and $(6,1)$ are two separate outcomes. Let me list the ordered pairs that sum to 7.", "location": 2}</intervention>""",
    3, ok("Wait, the two dice are different, so $(1,6)$ and $(6,1)$ are two separate outcomes. Let me list the ordered pairs that sum to 7.", 2))

add("draft-location-change-ducks", DUCKS + r"""
Proposed intervention:
<intervention>{"content": "She has 16 - 7 = 9 eggs left to sell.", "location": 3}</intervention>

Self-check:
1. Does it contain the answer 18? No.
2. Does it miss a key insight? It skips the fix itself (adding instead of multiplying).
3. Is the location later than the error? Yes, Substep 3 comes after the error in Substep 2.

Corrected intervention:
<intervention>{"content": "She eats 3 and bakes with 4, and these are separate uses of the eggs, so I should add them: 3 + 4 = 7 eggs used per day.", "location": 2}</intervention>""",
    4, ok("She eats 3 and bakes with 4, and these are separate uses of the eggs, so I should add them: 3 + 4 = 7 eggs used per day.", 2))

add("draft-leak-integral", INTEGRAL + r"""
Draft:

<intervention>{"content": "The antiderivative is $\sin u$, so the answer is $\sin 1 - \sin 0 = \sin 1$.", "location": 4}</intervention>

Self-check:
1. Does it contain the answer $\sin 1$? Yes. Revise.
2. Key insight? The sign of the antiderivative. Fine.
3. Is the location later than the error? Yes (4 vs 3). Move to Substep 3.

Final answer:

<intervention>{"content": "Wait, the derivative of $\sin u$ is $\cos u$, so the antiderivative of $\cos u$ is $\sin u$, not $-\sin u$.", "location": 3}</intervention>""",
    4, ok(r"Wait, the derivative of $\sin u$ is $\cos u$, so the antiderivative of $\cos u$ is $\sin u$, not $-\sin u$.", 3))

add("draft-late-heron", HERON + r"""
<intervention>{"content": "So $h = \frac{2 \cdot 84}{14}$.", "location": 4}</intervention>

Self-check. (1) The answer is 12; my draft does not state 12 but is one multiplication away. (2) It misses the reason (the factor $\frac{1}{2}$ in the area formula). (3) Location 4 is later than the error in Substep 3. Revising.

<intervention>{"content": "Wait, the area of a triangle is $\frac{1}{2} \cdot \text{base} \cdot \text{height}$, so with base $BC$ the altitude is $h = \frac{2 \cdot \text{Area}}{BC}$, not $\frac{\text{Area}}{BC}$.", "location": 3}</intervention>""",
    6, ok(r"Wait, the area of a triangle is $\frac{1}{2} \cdot \text{base} \cdot \text{height}$, so with base $BC$ the altitude is $h = \frac{2 \cdot \text{Area}}{BC}$, not $\frac{\text{Area}}{BC}$.", 3))

add("draft-leak-committee", COMMITTEE + r"""
Draft: <intervention>{"content": "Order does not matter, so the count is 336 / 6 = 56.", "location": 1}</intervention>

Self-check: 1. Does it contain the answer 56? Yes -> revise. 2. Key insight: present. 3. Location: fine.

Final: <intervention>{"content": "Wait, choosing Ann, then Bob, then Cy gives the same committee as Cy, Bob, Ann. Each committee of 3 appears $3!$ times in $8 \cdot 7 \cdot 6$, so I need to divide by $3!$.", "location": 1}</intervention>""",
    2, ok("Wait, choosing Ann, then Bob, then Cy gives the same committee as Cy, Bob, Ann. Each committee of 3 appears $3!$ times in $8 \\cdot 7 \\cdot 6$, so I need to divide by $3!$.", 1))

add("draft-leak-tan", TAN + r"""
Initial intervention:
<intervention>{"content": "Since $\tan\frac{\pi}{3} = \sqrt{3}$, $\theta = \frac{\pi}{3}$.", "location": 2}</intervention>

Self-check:
1. Does it contain the answer $\frac{\pi}{3}$? Yes -> revise.
2. Does it miss a key insight? No.
3. Is the location later than the error? No.

Revised:
<intervention>{"content": "Let me check: $\tan\frac{\pi}{6} = \frac{\sin(\pi/6)}{\cos(\pi/6)} = \frac{1}{\sqrt{3}}$, which is not $\sqrt{3}$, so $\frac{\pi}{6}$ is the wrong angle.", "location": 2}</intervention>""",
    3, ok(r"Let me check: $\tan\frac{\pi}{6} = \frac{\sin(\pi/6)}{\cos(\pi/6)} = \frac{1}{\sqrt{3}}$, which is not $\sqrt{3}$, so $\frac{\pi}{6}$ is the wrong angle.", 2))

add("draft-divisors-set-braces", DIVISORS + r"""
Draft:

<intervention>{"content": "The count is $(3+1)(2+1)(1+1) = 24$.", "location": 2}</intervention>

Self-check: 1. Does it contain the answer 24? Yes. Revise. 2. It also misses the reason for the +1. 3. Location is right.

Final:

<intervention>{"content": "Each divisor is $2^a 3^b 5^c$ with $a \in \{0,1,2,3\}$, $b \in \{0,1,2\}$, $c \in \{0,1\}$, so I should multiply the numbers of choices (exponent + 1) instead of the exponents.", "location": 2}</intervention>""",
    3, ok(r"Each divisor is $2^a 3^b 5^c$ with $a \in \{0,1,2,3\}$, $b \in \{0,1,2\}$, $c \in \{0,1\}$, so I should multiply the numbers of choices (exponent + 1) instead of the exponents.", 2))

add("draft-balls-closing-prose", BALLS + r"""
<intervention>{"content": "The second probability is 3/9, so the answer is 4/10 * 3/9 = 2/15.", "location": 2}</intervention>

Self-check: it states the answer $\frac{2}{15}$. Rewriting so that only the conditional probability is fixed.

<intervention>{"content": "Wait, the first red ball is not replaced, so for the second draw there are only 3 red balls out of 9. The second factor should be $\frac{3}{9}$.", "location": 2}</intervention>

I am confident in this intervention: it fixes the first critical error and leaves the multiplication to the student.""",
    3, ok(r"Wait, the first red ball is not replaced, so for the second draw there are only 3 red balls out of 9. The second factor should be $\frac{3}{9}$.", 2))

add("draft-grad-location", GRAD + r"""
Draft intervention:
<intervention>{"content": "At $(1,2)$ the gradient is $(4, 1 + 12)$.", "location": 3}</intervention>

Self-check:
1. Contains the answer $(4, 13)$? Almost: $(4, 1 + 12)$ is the answer. Revise.
2. Misses the key insight (the derivative of $y^3$). Revise.
3. Later than the error (3 > 2). Revise.

Final intervention:
<intervention>{"content": "Wait, the derivative of $y^3$ with respect to $y$ is $3y^2$, not $y^2$, so $f_y = x^2 + 3y^2$.", "location": 2}</intervention>""",
    3, ok("Wait, the derivative of $y^3$ with respect to $y$ is $3y^2$, not $y^2$, so $f_y = x^2 + 3y^2$.", 2))

add("draft-leak-odd", ODD + r"""
<intervention>{"content": "The sum of the first $n$ odd numbers is $n^2$, so the sum is $20^2 = 400$.", "location": 2}</intervention>

**Self-check.**
1. Does it contain the answer 400? Yes. -> revise.
2. Key insight: yes.
3. Location: correct.

**Final.**

<intervention>{"content": "Hmm, $n(n+1)$ is the sum of the first $n$ even numbers. Checking small cases, $1 = 1^2$ and $1 + 3 = 2^2$, so the sum of the first $n$ odd numbers is $n^2$.", "location": 2}</intervention>""",
    3, ok("Hmm, $n(n+1)$ is the sum of the first $n$ even numbers. Checking small cases, $1 = 1^2$ and $1 + 3 = 2^2$, so the sum of the first $n$ odd numbers is $n^2$.", 2))

add("draft-shop-gsm8k", SHOP + r"""
Draft: <intervention>{"content": "The pens cost $3.00, so he spends $15 and gets $5 back.", "location": 2}</intervention>
Self-check: the draft gives away the change ($5). Remove the last part.
Final: <intervention>{"content": "Let me redo the pens: 2 x $1.50 = $3.00, because two halves of a dollar make one more dollar.", "location": 2}</intervention>""",
    4, ok("Let me redo the pens: 2 x $1.50 = $3.00, because two halves of a dollar make one more dollar.", 2))

add("draft-inverse-location-1", INVERSE + r"""
<intervention>{"content": "Multiplying by 5: $x \equiv 20 \equiv 6 \pmod 7$.", "location": 2}</intervention>

Self-check:
1. Does it contain the answer 6? Yes. Revise.
2. Does it miss a key insight? It skips fixing the inverse.
3. Is the location later than the error? Yes, the error is in Substep 1.

<intervention>{"content": "Let me check 2: $3 \cdot 2 = 6 \not\equiv 1 \pmod 7$, so 2 is not the inverse. Trying the residues in turn, $3 \cdot 5 = 15 \equiv 1$, so the inverse of 3 is 5.", "location": 1}</intervention>""",
    3, ok(r"Let me check 2: $3 \cdot 2 = 6 \not\equiv 1 \pmod 7$, so 2 is not the inverse. Trying the residues in turn, $3 \cdot 5 = 15 \equiv 1$, so the inverse of 3 is 5.", 1))

add("draft-circle-then-prose-mention", CIRCLE + r"""
<intervention>{"content": "The radius is 5, so the area is $25\pi$.", "location": 2}</intervention>

Self-check: this contains the answer $25\pi$. Revise.

<intervention>{"content": "Wait, the diameter is 10, and the radius is half the diameter, so r = 5, not 10.", "location": 2}</intervention>

This <intervention> only fixes the radius; the student can finish the area computation alone.""",
    3, ok("Wait, the diameter is 10, and the radius is half the diameter, so r = 5, not 10.", 2))

add("draft-robe-long-selfcheck", ROBE + r"""
### Draft

<intervention>{"content": "White fiber: 1 bolt. Total: 3 bolts.", "location": 2}</intervention>

### Self-check

1. *Does it contain the answer 3?* Yes, "Total: 3 bolts" is the final answer. It must go.
2. *Does it miss a key insight?* It does not explain that "half that much" means dividing by 2.
3. *Is the location later than the error?* No, Substep 2 is where the error is.

### Final intervention

<intervention>{"content": "Wait, \"half that much\" means half of the 2 bolts of blue fiber, so I should divide by 2: the white fiber is 2 / 2 = 1 bolt.", "location": 2}</intervention>""",
    3, ok('Wait, "half that much" means half of the 2 bolts of blue fiber, so I should divide by 2: the white fiber is 2 / 2 = 1 bolt.', 2))

add("draft-abs-two-versions", ABS + r"""
<intervention>{"content": "Add 3 to all parts: $-2 < 2x < 8$, so $-1 < x < 4$.", "location": 2}</intervention>

Self-check: the answer is $-1 < x < 4$ and my draft states it. Revise to stop before dividing.

<intervention>{"content": "Wait, to undo the $-3$ I need to add 3 to all three parts, which gives $-2 < 2x < 8$.", "location": 2}</intervention>""",
    3, ok("Wait, to undo the $-3$ I need to add 3 to all three parts, which gives $-2 < 2x < 8$.", 2))


# =============================================================================================
# 3. A draft, then a FINAL block saying there is no intervention: the draft must NOT come back.
# =============================================================================================

_RECHECK_ROBE = r"""
Draft intervention:

<intervention>{"content": "Half of 2 bolts is 1 bolt, not 4.", "location": 2}</intervention>

Self-check: wait, let me re-read the problem statement once more before committing. "A robe takes 2 bolts of blue fiber and half that much white fiber." Hmm, I am no longer sure the attempt I was given matches this problem; the substeps may describe a different robe. I cannot point to a critical error with confidence, so I will not propose an intervention.

Final:

"""

add("draft-then-none", ROBE + _RECHECK_ROBE + "<intervention>None</intervention>", 3, None, "empty_content")
add("draft-then-no-intervention-needed", ROBE + _RECHECK_ROBE + "<intervention>No intervention needed.</intervention>",
    3, None, "empty_content")
add("draft-then-na", ROBE + _RECHECK_ROBE + "<intervention>N/A</intervention>", 3, None, "empty_content")
add("draft-then-null", ROBE + _RECHECK_ROBE + "<intervention>\nnull\n</intervention>", 3, None, "empty_content")
add("draft-then-no-critical-error", ROBE + _RECHECK_ROBE + "<intervention>No critical error.</intervention>",
    3, None, "empty_content")
add("draft-then-lowercase-none", ROBE + _RECHECK_ROBE + "<intervention> none </intervention>", 3, None, "empty_content")
add("draft-then-parenthesized-empty", ROBE + _RECHECK_ROBE + "<intervention>(empty)</intervention>", 3, None,
    "empty_content")

add("draft-then-empty-json", DIVISORS + r"""
Draft:
<intervention>{"content": "Each exponent gives exponent + 1 choices, so multiply (3+1)(2+1)(1+1).", "location": 2}</intervention>

Self-check: hmm, wait. Re-reading Substep 2, the attempt says "product of the exponents"... and the reference solution says the same thing?? No -- the reference says $(3+1)(2+1)(1+1)$. But the problem asks for the number of PRIME divisors? If so, the answer would be 3 and the attempt is wrong for a different reason. I am confused about which problem this is, so I output the empty intervention as instructed.

<intervention>{"content": "", "location": 0}</intervention>""", 3, None, "empty_content")

add("draft-then-empty-block", INTEGRAL + r"""
<intervention>{"content": "The antiderivative of $\cos u$ is $\sin u$.", "location": 3}</intervention>

Self-check: Actually, looking again at Substep 3, the student writes "$-\sin u$" but in Substep 4 computes "$-\sin 1 + \sin 0$"... The evaluation uses the antiderivative consistently, so the only error is the sign, which I already identified. Hmm, but the task says the attempt is incorrect, and it is. I keep going back and forth; I will leave the final block empty.

<intervention></intervention>""", 4, None, "empty_content")

add("draft-then-whitespace-block", ABS + r"""
<intervention>{"content": "Add 3 to each part instead.", "location": 2}</intervention>

On reflection the attempt's Substep 2 might be a transcription of a different inequality. No intervention.

<intervention>

</intervention>""", 3, None, "empty_content")

add("draft-then-content-null", TAN + r"""
<intervention>{"content": "$\tan\frac{\pi}{6} = \frac{1}{\sqrt{3}}$, not $\sqrt{3}$.", "location": 2}</intervention>

Self-check: the draft is fine, but re-reading the attempt, Substep 2 actually says $\tan\frac{\pi}{3}$ in the original... I cannot be sure. Final:

<intervention>{"content": null, "location": null}</intervention>""", 3, None, "empty_content")

add("draft-then-python-none", GRAD + r"""
<intervention>{'content': 'The derivative of $y^3$ is $3y^2$.', 'location': 2}</intervention>

Final decision: the attempt might be for $f = x^2 y + y^2$, in which case it is right.

<intervention>{'content': None, 'location': 0}</intervention>""", 3, None, "empty_content")

add("draft-then-content-string-none", ODD + r"""
<intervention>{"content": "The sum of the first n odd numbers is n^2.", "location": 2}</intervention>

Self-check: on second thought, no critical error I can defend.

<intervention>{"content": "None", "location": 0}</intervention>""", 3, None, "empty_content")

add("draft-then-content-na-with-location", SHOP + r"""
<intervention>{"content": "2 x 1.50 = 3.00", "location": 2}</intervention>
Self-check: hmm, maybe the pens were $1.25 each. Not sure.
<intervention>{"content": "N/A", "location": 3}</intervention>""", 4, None, "empty_content")

add("draft-then-empty-object", BALLS + r"""
<intervention>{"content": "Without replacement the second factor is 3/9.", "location": 2}</intervention>

Let me reconsider. ... I retract the intervention.

<intervention>{}</intervention>""", 3, None, "empty_content")

add("draft-then-fenced-empty-json", CIRCLE + r"""
<intervention>{"content": "r = 5", "location": 2}</intervention>

Self-check: too short, but also -- wait, the problem might say the square has DIAGONAL 10. I can't be certain the attempt is wrong at Substep 2. Final:

<intervention>
```json
{"content": "", "location": 0}
```
</intervention>""", 3, None, "empty_content")

add("draft-then-whitespace-content", HERON + r"""
<intervention>{"content": "h = 2 * Area / BC", "location": 3}</intervention>
Self-check: ... I decide not to intervene after all.
<intervention>{"content": "   ", "location": 3}</intervention>""", 6, None, "empty_content")


# =============================================================================================
# 4. No critical error found: empty interventions, no draft.
# =============================================================================================

_ALL_CORRECT = r"""Let me verify each substep.

**Substep 1:** "The notebooks cost 3 x $4 = $12." Correct.

**Substep 2:** "The pens cost 2 x $1.50 = $3.00." Correct.

**Substep 3:** "He spends $12 + $3 = $15." Correct.

**Substep 4:** "His change is $20 - $15 = $5." Correct, and this matches the reference answer.

Every substep is correct and the final answer matches the reference, so there is no critical error. (The task said the attempt is incorrect, but I find no mistake; perhaps the grader rejected its formatting.)

"""

add("no-error-empty-json", _ALL_CORRECT + EMPTY_LINE, 4, None, "empty_content")
add("no-error-bare-none", _ALL_CORRECT + "<intervention>None</intervention>", 4, None, "empty_content")
add("no-error-as-instructed", _ALL_CORRECT + "As instructed, since I find no error, I end with\n\n"
    + EMPTY_LINE + "\n", 4, None, "empty_content")
add("no-error-empty-content-location-null", _ALL_CORRECT
    + '<intervention>{"content": "", "location": null}</intervention>', 4, None, "empty_content")
add("no-error-uppercase-na", _ALL_CORRECT + "<INTERVENTION>N/A</INTERVENTION>", 4, None, "empty_content")


# =============================================================================================
# 5. One block holding a draft object and then the final object: the last object is read.
# =============================================================================================

add("block-two-objects-vieta", VIETA + r"""
<intervention>
Draft: {"content": "The correct identity gives $25 - 6 = 19$.", "location": 2}
That leaks the answer 19. Final:
{"content": "I need to subtract $2rs$ here, since $(r+s)^2 = r^2 + 2rs + s^2$.", "location": 2}
</intervention>""", 3, ok("I need to subtract $2rs$ here, since $(r+s)^2 = r^2 + 2rs + s^2$.", 2))

add("block-two-objects-location-change", HERON + r"""
<intervention>
{"content": "So $h = \frac{2 \cdot 84}{14}$.", "location": 4}
Self-check: location 4 is later than the error (Substep 3). Revised:
{"content": "Wait, since the area is $\frac{1}{2} \cdot BC \cdot h$, the altitude is $h = \frac{2 \cdot \text{Area}}{BC}$.", "location": 3}
</intervention>""", 6, ok(r"Wait, since the area is $\frac{1}{2} \cdot BC \cdot h$, the altitude is $h = \frac{2 \cdot \text{Area}}{BC}$.", 3))

add("block-two-fenced-objects", DICE + r"""
<intervention>
Draft:
```json
{"content": "Count ordered pairs: 6 of them, so 6/36.", "location": 2}
```
Self-check: it gives the answer away (6/36). Final:
```json
{"content": "The dice are distinguishable, so (1,6) and (6,1) are different outcomes; I should count ordered pairs.", "location": 2}
```
</intervention>""", 3, ok("The dice are distinguishable, so (1,6) and (6,1) are different outcomes; I should count ordered pairs.", 2))

add("block-object-then-note-object", MOD10 + r"""
<intervention>
{"content": "Let me redo the division: $2023 - 2020 = 3$, so the remainder mod 4 is 3.", "location": 2}
{"note": "replaces the division in Substep 2"}
</intervention>""", 4, ok("Let me redo the division: $2023 - 2020 = 3$, so the remainder mod 4 is 3.", 2))

add("block-draft-then-nested-final", ROUND + r"""
<intervention>
{"content": "Divide by 5, so 24.", "location": 2}
(leaks the answer; revised below)
{"intervention": {"content": "Wait, a mirror image swaps everyone's left and right neighbours, so it is a different seating; only rotations are the same.", "location": 2}}
</intervention>""", 3, ok("Wait, a mirror image swaps everyone's left and right neighbours, so it is a different seating; only rotations are the same.", 2))

add("block-object-then-latex-braces", DIVISORS + r"""
<intervention>
{"content": "Each exponent $e$ gives $e + 1$ choices, because the exponent of that prime in a divisor can be any of $0, 1, \dots, e$.", "location": 2}
(for 2 the exponents are {0, 1, 2, 3}, for 3 they are {0, 1, 2}, for 5 they are {0, 1})
</intervention>""", 3, ok(r"Each exponent $e$ gives $e + 1$ choices, because the exponent of that prime in a divisor can be any of $0, 1, \dots, e$.", 2))

add("block-draft-then-truncated-final", BALLS + r"""
<intervention>
{"content": "Without replacement, the second factor is $\frac{3}{9}$, so $P = \frac{4}{10} \cdot \frac{3}{9} = \frac{2}{15}$.", "location": 2}
That leaks $\frac{2}{15}$. Revised:
{"content": "Wait, the first red ball is not put back, so for the second draw""", 3,
    ok(r"Without replacement, the second factor is $\frac{3}{9}$, so $P = \frac{4}{10} \cdot \frac{3}{9} = \frac{2}{15}$.", 2),
    ambiguous_ok=True)  # the last COMPLETE object is the leaking draft; a rejection is as good

add("block-prose-then-object", GRAD + r"""
<intervention>
Here is the step the student should write instead of Substep 2:
{"content": "Wait, $\frac{d}{dy} y^3 = 3y^2$, so the partial derivative in $y$ is $x^2 + 3y^2$.", "location": 2}
</intervention>""", 3, ok(r"Wait, $\frac{d}{dy} y^3 = 3y^2$, so the partial derivative in $y$ is $x^2 + 3y^2$.", 2))


# =============================================================================================
# 6. Repeated keys: the LAST value of a key wins; key names are case-insensitive.
# =============================================================================================

add("repeated-content-key", ROBE + r"""
<intervention>{"content": "White: 1 bolt, total 3 bolts.", "content": "Half of the 2 blue bolts is 2 / 2 = 1 bolt of white fiber.", "location": 2}</intervention>""",
    3, ok("Half of the 2 blue bolts is 2 / 2 = 1 bolt of white fiber.", 2))

add("repeated-location-key", INRADIUS + r"""
<intervention>{"content": "The area of a right triangle is half the product of its legs.", "location": 4, "location": 2}</intervention>""",
    4, ok("The area of a right triangle is half the product of its legs.", 2))

add("repeated-both-keys-pretty", ODD + r"""
<intervention>
{
  "content": "The sum is 20^2 = 400.",
  "location": 3,
  "content": "Checking small cases, 1 = 1^2, 1 + 3 = 2^2, 1 + 3 + 5 = 3^2, so the sum of the first n odd numbers is n^2, not n(n+1).",
  "location": 2
}
</intervention>""", 3, ok("Checking small cases, 1 = 1^2, 1 + 3 = 2^2, 1 + 3 + 5 = 3^2, so the sum of the first n odd numbers is n^2, not n(n+1).", 2))

add("repeated-key-different-case", CIRCLE + r"""
<intervention>{"content": "r = 5 so the area is 25 pi", "Content": "The radius is half of the diameter 10, so r = 5.", "location": 2}</intervention>""",
    3, ok("The radius is half of the diameter 10, so r = 5.", 2))

add("repeated-content-last-empty", ABS + r"""
<intervention>{"content": "Add 3 to all three parts instead.", "content": "", "location": 2}</intervention>""",
    3, None, "empty_content")

add("uppercase-keys", DUCKS + r"""
<intervention>{"CONTENT": "The 3 eggs she eats and the 4 she bakes with add up: 3 + 4 = 7.", "LOCATION": 2}</intervention>""",
    4, ok("The 3 eggs she eats and the 4 she bakes with add up: 3 + 4 = 7.", 2))

add("titlecase-keys", BALLS + r"""
<intervention>{"Content": "The second draw has 3 red balls out of 9 left.", "Location": "Substep 2"}</intervention>""",
    3, ok("The second draw has 3 red balls out of 9 left.", 2))


# =============================================================================================
# 7. Markdown lists or prose in the final block (no object at all): no_object.
# =============================================================================================

add("markdown-list-final", INRADIUS + r"""
<intervention>
**Content:** Wait, the area of a right triangle is half the product of the legs, so the area is half of 6 times 8.
**Location:** 2
</intervention>""", 4, None, "no_object")

add("markdown-bullets-final", DUCKS + r"""
<intervention>
- content: She eats 3 and bakes with 4, so she uses 3 + 4 = 7 eggs.
- location: Substep 2
</intervention>""", 4, None, "no_object")

add("prose-final-block", DUCKS + r"""
<intervention>
I would replace Substep 2 with a step that adds the eggs she eats and the eggs she bakes with, instead of multiplying them.
</intervention>""", 4, None, "no_object")

add("draft-json-then-markdown-final", ROBE + r"""
Draft:
<intervention>{"content": "Half of 2 is 1, so 1 bolt of white fiber.", "location": 2}</intervention>

Self-check passed. Final intervention:

<intervention>
**Content:** Half as much white fiber as the 2 blue bolts means 2 / 2 = 1 bolt.
**Location:** Substep 2
</intervention>""", 3, None, "no_object")

add("yaml-final", CIRCLE + r"""
<intervention>
content: The radius is half the diameter, so r = 10 / 2 = 5.
location: 2
</intervention>""", 3, None, "no_object")

add("prose-final-with-latex-braces", INRADIUS + r"""
<intervention>
Replace Substep 2 with: the area is $\frac{1}{2} \cdot 6 \cdot 8$, since the legs are the base and the height.
</intervention>""", 4, None, "unparseable")

add("markdown-table-final", SHOP + r"""
<intervention>
| Field    | Value                                      |
|----------|--------------------------------------------|
| Content  | 2 pens at 1.50 dollars each cost 3 dollars. |
| Location | 2                                          |
</intervention>""", 4, None, "no_object")

add("final-block-see-above", MOD10 + r"""
<intervention>{"content": "Let me redo 2023 / 4: 4 x 505 = 2020, so the remainder is 3.", "location": 2}</intervention>

Self-check: fine, no leak.

Final: <intervention>See the intervention above.</intervention>""", 4, None, "no_object")

add("markdown-numbered-final-after-draft", COINS + r"""
<intervention>{"content": "HH, HT and TH all have a head.", "location": 2}</intervention>

Revised as a numbered list, as the student would think it:

<intervention>
1. Content: Wait, TH has a head on the second flip, so it counts too.
2. Location: 2
</intervention>""", 3, None, "no_object")


# =============================================================================================
# 8. Broken but readable near-JSON: the lenient reader recovers the object.
# =============================================================================================

add("single-quotes-python-dict", ROBE + r"""
<intervention>{'content': 'Half of 2 bolts is 2 / 2 = 1 bolt of white fiber.', 'location': 2}</intervention>""",
    3, ok("Half of 2 bolts is 2 / 2 = 1 bolt of white fiber.", 2))

add("single-quotes-inner-apostrophes", DUCKS + r"""
<intervention>{'content': 'Wait, I can't multiply here: she eats 3 and bakes with 4, so that's 3 + 4 eggs.', 'location': 2}</intervention>""",
    4, ok("Wait, I can't multiply here: she eats 3 and bakes with 4, so that's 3 + 4 eggs.", 2))

add("single-quotes-escaped-apostrophe", DUCKS + r"""
<intervention>{'content': 'Let\'s add them instead: 3 + 4 = 7 eggs are used.', 'location': 2}</intervention>""",
    4, ok("Let's add them instead: 3 + 4 = 7 eggs are used.", 2))

add("bare-keys", CIRCLE + r"""
<intervention>{content: "The radius is half the diameter: 10 / 2 = 5.", location: 2}</intervention>""",
    3, ok("The radius is half the diameter: 10 / 2 = 5.", 2))

add("trailing-comma", ABS + r"""
<intervention>{"content": "I need to add 3 to every part, not subtract it.", "location": 2,}</intervention>""",
    3, ok("I need to add 3 to every part, not subtract it.", 2))

add("missing-comma", DICE + r"""
<intervention>{"content": "The two dice are different, so (1,6) and (6,1) both count." "location": 2}</intervention>""",
    3, ok("The two dice are different, so (1,6) and (6,1) both count.", 2))

add("missing-comma-pretty", GRAD + r"""
<intervention>
{
    "content": "Wait, the derivative of y^3 is 3y^2, so f_y = x^2 + 3y^2."
    "location": 2
}
</intervention>""", 3, ok("Wait, the derivative of y^3 is 3y^2, so f_y = x^2 + 3y^2.", 2))

add("trailing-comma-pretty", HERON + r"""
<intervention>
{
    "content": "Area = (1/2) * BC * h, so h = 2 * Area / BC.",
    "location": 3,
}
</intervention>""", 6, ok("Area = (1/2) * BC * h, so h = 2 * Area / BC.", 3))

add("raw-newline-in-string", MOD10 + r"""
<intervention>{"content": "Hold on, let me redo the division.
$4 \cdot 505 = 2020$, so the remainder of 2023 divided by 4 is 3, not 1.", "location": 2}</intervention>""",
    4, ok("Hold on, let me redo the division.\n$4 \\cdot 505 = 2020$, so the remainder of 2023 divided by 4 is 3, not 1.", 2))

add("raw-newlines-indented-surrounding", COINS + r"""
<intervention>{"content": "
    Wait, TH also has a head.
    I should recount the outcomes with at least one head.
", "location": 2}</intervention>""",
    3, ok("Wait, TH also has a head.\n    I should recount the outcomes with at least one head.", 2))

add("unescaped-inner-quotes", ROBE + r"""
<intervention>{"content": "The phrase "half that much" means I divide by 2, so the white fiber is 1 bolt.", "location": 2}</intervention>""",
    3, ok('The phrase "half that much" means I divide by 2, so the white fiber is 1 bolt.', 2))

add("unescaped-inner-quotes-quoting-substep", DUCKS + r"""
<intervention>{"content": "Wait, I wrote "3 x 4" but she eats 3 eggs and bakes with 4 eggs, so the total used is "3 + 4" eggs.", "location": 2}</intervention>""",
    4, ok('Wait, I wrote "3 x 4" but she eats 3 eggs and bakes with 4 eggs, so the total used is "3 + 4" eggs.', 2))

add("unquoted-location-substep", INTEGRAL + r"""
<intervention>{"content": "Wait, since the derivative of $\sin u$ is $\cos u$, the antiderivative of $\cos u$ has no minus sign.", "location": Substep 3}</intervention>""",
    4, ok(r"Wait, since the derivative of $\sin u$ is $\cos u$, the antiderivative of $\cos u$ has no minus sign.", 3))

add("extra-keys", BALLS + r"""
<intervention>{"error_type": "conceptual", "first_error": "Substep 2", "content": "The first ball is not replaced, so 3 red balls remain among 9.", "location": 2, "confidence": 0.9}</intervention>""",
    3, ok("The first ball is not replaced, so 3 red balls remain among 9.", 2))

add("key-order-reversed", HERON + r"""
<intervention>{"location": 3, "content": "Wait, the area is half of base times height, so the altitude is twice the area divided by the base."}</intervention>""",
    6, ok("Wait, the area is half of base times height, so the altitude is twice the area divided by the base.", 3))

add("number-content", DUCKS + r"""
Replacing the product by the sum, the eggs used are just the number below.

<intervention>{"content": 7, "location": 2}</intervention>""", 4, ok("7", 2))

add("mixed-quote-styles", CIRCLE + r"""
<intervention>{"content": 'The radius is half of 10, which is 5.', 'location': 2}</intervention>""",
    3, ok("The radius is half of 10, which is 5.", 2))

add("python-dict-with-true-flag", ODD + r"""
<intervention>{'content': 'Testing n = 2: 1 + 3 = 4 = 2^2, not 2 * 3 = 6, so the formula n(n+1) is wrong for odd numbers.', 'location': 2, 'leaks_answer': False, 'verified': True}</intervention>""",
    3, ok("Testing n = 2: 1 + 3 = 4 = 2^2, not 2 * 3 = 6, so the formula n(n+1) is wrong for odd numbers.", 2))

add("escaped-slash", ROBE + r"""
<intervention>{"content": "Half of 2 is 2 \/ 2 = 1 bolt of white fiber.", "location": 2}</intervention>""",
    3, ok("Half of 2 is 2 / 2 = 1 bolt of white fiber.", 2))


# =============================================================================================
# 9. Unreadable finals: truncated objects, content that is not text, no content key.
# =============================================================================================

add("truncated-mid-string-after-draft", DICE + r"""
<intervention>{"content": "Counting ordered pairs gives 6, so the probability is 1/6.", "location": 2}</intervention>

Self-check: 1. Does it contain the answer $\frac{1}{6}$? Yes -> revise.

<intervention>{"content": "Wait, the two dice are distinguishable, so I need to count""", 3, None, "unparseable")

add("truncated-mid-string", HERON + r"""
<intervention>{"content": "Wait, the area of a triangle is $\frac{1}{2} \cdot \text{base} \cdot""", 6, None, "unparseable")

add("truncated-after-content-key", VIETA + r"""
Final intervention:

<intervention>{"content":""", 3, None, "unparseable")

add("truncated-mid-location", VIETA + r"""
<intervention>{"content": "I must subtract $2rs$, not add it.", "location": """, 3, None, "unparseable")

add("truncated-missing-closing-brace", ROBE + r"""
<intervention>{"content": "Half of 2 bolts is 1 bolt.", "location": 2""", 3, None, "unparseable")

add("content-is-list", VIETA + r"""
<intervention>{"content": ["Wait, the identity has a minus sign.", "So I subtract $2rs$."], "location": 2}</intervention>""",
    3, None, "unparseable")

add("content-is-object", CIRCLE + r"""
<intervention>{"content": {"text": "The radius is 5.", "reason": "half the diameter"}, "location": 2}</intervention>""",
    3, None, "unparseable")

add("content-is-bool", ABS + r"""
<intervention>{"content": true, "location": 2}</intervention>""", 3, None, "unparseable")

add("no-content-key", DUCKS + r"""
<intervention>{"text": "She uses 3 + 4 = 7 eggs.", "location": 2}</intervention>""", 4, None, "unparseable")

add("no-content-key-step-keys", INTEGRAL + r"""
<intervention>{"step": "The antiderivative of cos u is sin u.", "substep": 3}</intervention>""", 4, None, "unparseable")

add("location-only-object", COINS + r"""
<intervention>{location: 2}</intervention>""", 3, None, "unparseable")

add("latex-only-braces-final", TAN + r"""
<intervention>
$\tan\frac{\pi}{6} = \frac{1}{\sqrt{3}}$
</intervention>""", 3, None, "unparseable")

add("draft-ok-final-content-list", ODD + r"""
<intervention>{"content": "The sum of the first n odd numbers is n^2.", "location": 2}</intervention>

Final, split into two sentences:

<intervention>{"content": ["Check: 1 + 3 = 4 = 2^2.", "So the sum of the first n odd numbers is n^2."], "location": 2}</intervention>""",
    3, None, "unparseable")


# =============================================================================================
# 10. LaTeX-heavy contents: backslashes as models write them (mostly NOT doubled).
# =============================================================================================

add("latex-frac-sqrt-times", INRADIUS + r"""
<intervention>{"content": "The area is $\frac{1}{2} \times 6 \times 8$, not $6 \times 8$; then I can use $r = \frac{A}{s}$ with $s = \frac{6 + 8 + \sqrt{100}}{2}$.", "location": 2}</intervention>""",
    4, ok(r"The area is $\frac{1}{2} \times 6 \times 8$, not $6 \times 8$; then I can use $r = \frac{A}{s}$ with $s = \frac{6 + 8 + \sqrt{100}}{2}$.", 2))

add("latex-text-times", HERON + r"""
<intervention>{"content": "I should write the area as $\text{Area} = \frac{1}{2} \times \text{base} \times \text{height}$ before dividing by $BC$.", "location": 3}</intervention>""",
    6, ok(r"I should write the area as $\text{Area} = \frac{1}{2} \times \text{base} \times \text{height}$ before dividing by $BC$.", 3))

add("latex-neq-outside-math", INVERSE + r"""
<intervention>{"content": "Check: 3 x 2 = 6 and 6 \neq 1 (mod 7), so 2 is not the inverse of 3. Trying 5 instead: 3 x 5 = 15 = 2 x 7 + 1.", "location": 1}</intervention>""",
    3, ok(r"Check: 3 x 2 = 6 and 6 \neq 1 (mod 7), so 2 is not the inverse of 3. Trying 5 instead: 3 x 5 = 15 = 2 x 7 + 1.", 1))

add("latex-not-equiv-pmod", INVERSE + r"""
<intervention>{"content": "Let me verify the inverse: $3 \cdot 2 = 6 \not\equiv 1 \pmod{7}$, so 2 is wrong. Since $3 \cdot 5 = 15 \equiv 1 \pmod{7}$, the inverse of 3 is 5.", "location": 1}</intervention>""",
    3, ok(r"Let me verify the inverse: $3 \cdot 2 = 6 \not\equiv 1 \pmod{7}$, so 2 is wrong. Since $3 \cdot 5 = 15 \equiv 1 \pmod{7}$, the inverse of 3 is 5.", 1))

add("latex-nabla-left-right", GRAD + r"""
<intervention>{"content": "Let me recompute $\nabla f = \left( \frac{\partial f}{\partial x}, \frac{\partial f}{\partial y} \right)$ carefully: $\frac{\partial}{\partial y}(y^3) = 3y^2$, so $f_y = x^2 + 3y^2$.", "location": 2}</intervention>""",
    3, ok(r"Let me recompute $\nabla f = \left( \frac{\partial f}{\partial x}, \frac{\partial f}{\partial y} \right)$ carefully: $\frac{\partial}{\partial y}(y^3) = 3y^2$, so $f_y = x^2 + 3y^2$.", 2))

add("latex-binom", COMMITTEE + r"""
<intervention>{"content": "Since a committee is unordered, I should count $\binom{8}{3} = \frac{8 \cdot 7 \cdot 6}{3!}$ instead of $8 \cdot 7 \cdot 6$.", "location": 1}</intervention>""",
    2, ok(r"Since a committee is unordered, I should count $\binom{8}{3} = \frac{8 \cdot 7 \cdot 6}{3!}$ instead of $8 \cdot 7 \cdot 6$.", 1))

add("latex-theta-neq", TAN + r"""
<intervention>{"content": "Wait: $\tan\theta = \frac{\sin\theta}{\cos\theta}$, and at $\theta = \frac{\pi}{6}$ this is $\frac{1/2}{\sqrt{3}/2} = \frac{1}{\sqrt{3}} \neq \sqrt{3}$.", "location": 2}</intervention>""",
    3, ok(r"Wait: $\tan\theta = \frac{\sin\theta}{\cos\theta}$, and at $\theta = \frac{\pi}{6}$ this is $\frac{1/2}{\sqrt{3}/2} = \frac{1}{\sqrt{3}} \neq \sqrt{3}$.", 2))

add("latex-nolimits", ODD + r"""
<intervention>{"content": "The sum $\sum\nolimits_{k=1}^{20} (2k - 1)$ is not $n(n+1)$: that is $\sum\nolimits_{k=1}^{n} 2k$. I should use $\sum_{k=1}^{n} (2k-1) = 2 \cdot \frac{n(n+1)}{2} - n$.", "location": 2}</intervention>""",
    3, ok(r"The sum $\sum\nolimits_{k=1}^{20} (2k - 1)$ is not $n(n+1)$: that is $\sum\nolimits_{k=1}^{n} 2k$. I should use $\sum_{k=1}^{n} (2k-1) = 2 \cdot \frac{n(n+1)}{2} - n$.", 2))

add("latex-aligned-single-backslash-linebreak", VIETA + r"""
<intervention>{"content": "Let me expand carefully: $\begin{aligned} (r+s)^2 &= r^2 + 2rs + s^2 \\ r^2 + s^2 &= (r+s)^2 - 2rs \end{aligned}$", "location": 2}</intervention>""",
    3, ok(r"Let me expand carefully: $\begin{aligned} (r+s)^2 &= r^2 + 2rs + s^2 \ r^2 + s^2 &= (r+s)^2 - 2rs \end{aligned}$", 2))

add("latex-aligned-fully-doubled", ABS + r"""
<intervention>{"content": "$\\begin{aligned} -5 &< 2x - 3 < 5 \\\\ -5 + 3 &< 2x < 5 + 3 \\end{aligned}$ so I must add 3, not subtract it.", "location": 2}</intervention>""",
    3, ok(r"$\begin{aligned} -5 &< 2x - 3 < 5 \\ -5 + 3 &< 2x < 5 + 3 \end{aligned}$ so I must add 3, not subtract it.", 2))

add("latex-paren-delimiters", INTEGRAL + r"""
<intervention>{"content": "Wait, the antiderivative of \( \cos u \) is \( \sin u \), because \( \frac{d}{du} \sin u = \cos u \); the minus sign belongs to the antiderivative of \( \sin u \).", "location": 3}</intervention>""",
    4, ok(r"Wait, the antiderivative of \( \cos u \) is \( \sin u \), because \( \frac{d}{du} \sin u = \cos u \); the minus sign belongs to the antiderivative of \( \sin u \).", 3))

add("latex-bracket-delimiters", GRAD + r"""
<intervention>{"content": "Differentiating in $y$: \[ \frac{\partial}{\partial y} \left( x^2 y + y^3 \right) = x^2 + 3y^2 \] so the $y^3$ term gives $3y^2$.", "location": 2}</intervention>""",
    3, ok(r"Differentiating in $y$: \[ \frac{\partial}{\partial y} \left( x^2 y + y^3 \right) = x^2 + 3y^2 \] so the $y^3$ term gives $3y^2$.", 2))

add("latex-underline-and-unicode-escape", CIRCLE + r"""
<intervention>{"content": "The \underline{radius} is half the diameter: r = 10 / 2 = 5 \u2013 not 10.", "location": 2}</intervention>""",
    3, ok(r"The \underline{radius} is half the diameter: r = 10 / 2 = 5 " + "\u2013" + " not 10.", 2))

add("latex-unicode-degree", TAN + r"""
<intervention>{"content": "Let me recall the table: $\tan 30\u00b0 = \frac{1}{\sqrt{3}}$, so $\frac{\pi}{6}$ gives $\frac{1}{\sqrt{3}}$, not $\sqrt{3}$.", "location": 2}</intervention>""",
    3, ok(r"Let me recall the table: $\tan 30" + "\u00b0" + r" = \frac{1}{\sqrt{3}}$, so $\frac{\pi}{6}$ gives $\frac{1}{\sqrt{3}}$, not $\sqrt{3}$.", 2))

add("latex-forall", ODD + r"""
<intervention>{"content": "I claim $\sum_{k=1}^{n} (2k-1) = n^2$ $\forall n \ge 1$: it holds for $n = 1$, and adding the next odd number $2n+1$ gives $n^2 + 2n + 1 = (n+1)^2$.", "location": 2}</intervention>""",
    3, ok(r"I claim $\sum_{k=1}^{n} (2k-1) = n^2$ $\forall n \ge 1$: it holds for $n = 1$, and adding the next odd number $2n+1$ gives $n^2 + 2n + 1 = (n+1)^2$.", 2))

add("latex-text-dollars-gsm8k", DUCKS + r"""
<intervention>{"content": "The eggs used are $3 + 4 = 7$, so the remaining eggs are $16 - 7$, sold at $2 \text{ dollars}$ each.", "location": 2}</intervention>""",
    4, ok(r"The eggs used are $3 + 4 = 7$, so the remaining eggs are $16 - 7$, sold at $2 \text{ dollars}$ each.", 2))

add("latex-dfrac-mid", BALLS + r"""
<intervention>{"content": "Without replacement the second draw is conditional: $P(R_2 \mid R_1) = \dfrac{3}{9}$, so $P = \dfrac{4}{10} \cdot \dfrac{3}{9}$.", "location": 2}</intervention>""",
    3, ok(r"Without replacement the second draw is conditional: $P(R_2 \mid R_1) = \dfrac{3}{9}$, so $P = \dfrac{4}{10} \cdot \dfrac{3}{9}$.", 2))

add("latex-tfrac-triangle", HERON + r"""
<intervention>{"content": "In $\triangle ABC$, the area is $\tfrac{1}{2} \cdot BC \cdot h$, so $h = \tfrac{2 \cdot 84}{14}$ rather than $\tfrac{84}{14}$.", "location": 3}</intervention>""",
    6, ok(r"In $\triangle ABC$, the area is $\tfrac{1}{2} \cdot BC \cdot h$, so $h = \tfrac{2 \cdot 84}{14}$ rather than $\tfrac{84}{14}$.", 3))

add("latex-mixed-doubled-and-single", INRADIUS + r"""
<intervention>{"content": "Since $\\frac{1}{2} \cdot 6 \cdot 8$ is the area of the triangle, I must not use $6 \\times 8$ directly.", "location": 2}</intervention>""",
    4, ok(r"Since $\frac{1}{2} \cdot 6 \cdot 8$ is the area of the triangle, I must not use $6 \times 8$ directly.", 2))

add("latex-floor", MOD10 + r"""
<intervention>{"content": "Let me recompute: $\lfloor 2023 / 4 \rfloor = 505$ and $2023 - 4 \cdot 505 = 3$, so the exponent is $\equiv 3 \pmod 4$, not 1.", "location": 2}</intervention>""",
    4, ok(r"Let me recompute: $\lfloor 2023 / 4 \rfloor = 505$ and $2023 - 4 \cdot 505 = 3$, so the exponent is $\equiv 3 \pmod 4$, not 1.", 2))

add("latex-rho-beta", BALLS + r"""
<intervention>{"content": "Let $\rho = \frac{4}{10}$ be the first factor and $\beta$ the second; since the ball is not replaced, $\beta = \frac{3}{9}$, not $\rho$.", "location": 2}</intervention>""",
    3, ok(r"Let $\rho = \frac{4}{10}$ be the first factor and $\beta$ the second; since the ball is not replaced, $\beta = \frac{3}{9}$, not $\rho$.", 2))

add("latex-neq-differentiate-check", INTEGRAL + r"""
<intervention>{"content": "Check by differentiating: $\frac{d}{du}(-\sin u) = -\cos u \neq \cos u$, so $-\sin u$ is not an antiderivative of $\cos u$; since $\frac{d}{du}\sin u = \cos u$, I should use $\int \cos u \, du = \sin u + C$.", "location": 3}</intervention>""",
    4, ok(r"Check by differentiating: $\frac{d}{du}(-\sin u) = -\cos u \neq \cos u$, so $-\sin u$ is not an antiderivative of $\cos u$; since $\frac{d}{du}\sin u = \cos u$, I should use $\int \cos u \, du = \sin u + C$.", 3))

add("latex-nmid-notin", DIVISORS + r"""
<intervention>{"content": "Careful: $2^4 \nmid 360$, so the exponent of 2 in a divisor is at most 3, and $4 \notin \{0,1,2,3\}$; counting exponents from 0 gives 3 + 1 choices for the prime 2.", "location": 2}</intervention>""",
    3, ok(r"Careful: $2^4 \nmid 360$, so the exponent of 2 in a divisor is at most 3, and $4 \notin \{0,1,2,3\}$; counting exponents from 0 gives 3 + 1 choices for the prime 2.", 2))


# =============================================================================================
# 11. "\n" escapes: a newline before ordinary words, TeX for \ne, \nu, \neq ... (inside math always;
#     outside math the short \ne / \ni / \nu followed by "." "-" "'" are a newline: e.g., i.e., u-).
# =============================================================================================

add("newline-escape-then", DUCKS + r"""
<intervention>{"content": "Wait, I multiplied instead of adding.\nThen the eggs used are 3 + 4 = 7.", "location": 2}</intervention>""",
    4, ok("Wait, I multiplied instead of adding.\nThen the eggs used are 3 + 4 = 7.", 2))

add("newline-escape-eg", DICE + r"""
<intervention>{"content": "The dice are distinguishable, so order matters.\ne.g. $(1,6)$ and $(6,1)$ are two different outcomes.", "location": 2}</intervention>""",
    3, ok("The dice are distinguishable, so order matters.\ne.g. $(1,6)$ and $(6,1)$ are two different outcomes.", 2))

add("newline-escape-ie", DICE + r"""
<intervention>{"content": "I need to count ordered pairs.\ni.e. each unordered pair like $\{1,6\}$ appears twice.", "location": 2}</intervention>""",
    3, ok("I need to count ordered pairs.\ni.e. each unordered pair like $\\{1,6\\}$ appears twice.", 2))

add("newline-escape-u-substitution", INTEGRAL + r"""
<intervention>{"content": "With $u = x^2$ the bounds stay 0 and 1.\nu-substitution does not change the sign, and since $\frac{d}{du}\sin u = \cos u$, the antiderivative of $\cos u$ is $\sin u$.", "location": 3}</intervention>""",
    4, ok("With $u = x^2$ the bounds stay 0 and 1.\nu-substitution does not change the sign, and since $\\frac{d}{du}\\sin u = \\cos u$, the antiderivative of $\\cos u$ is $\\sin u$.", 3))

add("nu-inside-math", INTEGRAL + r"""
<intervention>{"content": "Let $\nu = x^2$ to avoid confusion with my earlier $u$; then $d\nu = 2x\,dx$ and $\int \cos\nu \, d\nu = \sin\nu$.", "location": 3}</intervention>""",
    4, ok(r"Let $\nu = x^2$ to avoid confusion with my earlier $u$; then $d\nu = 2x\,dx$ and $\int \cos\nu \, d\nu = \sin\nu$.", 3))

add("ne-inside-math", INVERSE + r"""
<intervention>{"content": "Since $3 \cdot 2 = 6$ and $6 \ne 1$ in $\mathbb{Z}_7$, 2 is not the inverse of 3.", "location": 1}</intervention>""",
    3, ok(r"Since $3 \cdot 2 = 6$ and $6 \ne 1$ in $\mathbb{Z}_7$, 2 is not the inverse of 3.", 1))

add("ne-outside-math-before-space", INVERSE + r"""
<intervention>{"content": "3 x 2 = 6 and 6 \ne 1 mod 7, so 2 cannot be the inverse of 3.", "location": 1}</intervention>""",
    3, ok(r"3 x 2 = 6 and 6 \ne 1 mod 7, so 2 cannot be the inverse of 3.", 1))

add("crlf-and-double-newline", CIRCLE + r"""
<intervention>{"content": "Hold on.\r\nThe radius is half the diameter.\n\nSo r = 5.", "location": 2}</intervention>""",
    3, ok("Hold on.\r\nThe radius is half the diameter.\n\nSo r = 5.", 2))

add("newline-note-and-lowercase-next", ROBE + r"""
<intervention>{"content": "Half of 2 is 1.\nNote: half means divide by 2.\nnext, add the bolts.", "location": 2}</intervention>""",
    3, ok("Half of 2 is 1.\nNote: half means divide by 2.\nnext, add the bolts.", 2))

add("newline-with-neq-outside-math", ODD + r"""
<intervention>{"content": "The sum of the first n odd numbers is n^2, and n^2 \neq n(n+1).\nSo I should use n^2 here.", "location": 2}</intervention>""",
    3, ok("The sum of the first n odd numbers is n^2, and n^2 \\neq n(n+1).\nSo I should use n^2 here.", 2))

add("newline-u-prime", INTEGRAL + r"""
<intervention>{"content": "Let me differentiate to check.\nu' = 2x, and $(\sin u)' = \cos u \cdot u'$, so the antiderivative of $\cos u$ is $\sin u$, not $-\sin u$.", "location": 3}</intervention>""",
    4, ok("Let me differentiate to check.\nu' = 2x, and $(\\sin u)' = \\cos u \\cdot u'$, so the antiderivative of $\\cos u$ is $\\sin u$, not $-\\sin u$.", 3))

add("newline-at-both-ends-stripped", INRADIUS + r"""
<intervention>{"content": "\nThe area is half of 6 x 8.\n", "location": 2}</intervention>""",
    4, ok("The area is half of 6 x 8.", 2))

add("newline-numbered-lines", DUCKS + r"""
<intervention>{"content": "Let me recount:\n1. eggs eaten: 3\n2. eggs for muffins: 4\n3. total used: 3 + 4 = 7", "location": 2}</intervention>""",
    4, ok("Let me recount:\n1. eggs eaten: 3\n2. eggs for muffins: 4\n3. total used: 3 + 4 = 7", 2))

add("tab-escape-before-digit", DUCKS + r"""
<intervention>{"content": "Eggs used:\t3 + 4 = 7, not 3 x 4.", "location": 2}</intervention>""",
    4, ok("Eggs used:\t3 + 4 = 7, not 3 x 4.", 2))

add("nu-outside-math-before-space", INTEGRAL + r"""
<intervention>{"content": "Renaming the variable \nu = x^2 makes no difference: the antiderivative of cos is sin, so $\int_0^1 \cos u\,du$ has no minus sign.", "location": 3}</intervention>""",
    4, ok(r"Renaming the variable \nu = x^2 makes no difference: the antiderivative of cos is sin, so $\int_0^1 \cos u\,du$ has no minus sign.", 3))

add("newline-after-lone-dollar-gsm8k", DUCKS + r"""
<intervention>{"content": "She sells the rest at $2 each, so first I need the number of eggs left.\nThe eggs used are 3 + 4 = 7.", "location": 2}</intervention>""",
    4, ok("She sells the rest at $2 each, so first I need the number of eggs left.\nThe eggs used are 3 + 4 = 7.", 2))

add("newline-eg-after-closed-math", DICE + r"""
<intervention>{"content": "Order matters, since $(1,6) \ne (6,1)$ as outcomes.\ne.g. the first die shows 1 and the second 6, or the reverse.", "location": 2}</intervention>""",
    3, ok("Order matters, since $(1,6) \\ne (6,1)$ as outcomes.\ne.g. the first die shows 1 and the second 6, or the reverse.", 2))

add("newline-ie-after-paren-math", COINS + r"""
<intervention>{"content": "The outcome TH has a head, so \( \text{TH} \in A \).\ni.e. the second coin counts too.", "location": 2}</intervention>""",
    3, ok("The outcome TH has a head, so \\( \\text{TH} \\in A \\).\ni.e. the second coin counts too.", 2))

add("newline-before-dollar-then-neq", ODD + r"""
<intervention>{"content": "Check with n = 2.\n$1 + 3 = 4$ and $4 \neq 2 \cdot 3$, so n(n+1) is wrong; the sum is n^2.", "location": 2}</intervention>""",
    3, ok("Check with n = 2.\n$1 + 3 = 4$ and $4 \\neq 2 \\cdot 3$, so n(n+1) is wrong; the sum is n^2.", 2))

add("doubled-newline-escape-stays-literal", ROBE + r"""
<intervention>{"content": "Half of 2 is 1.\\nThen the total is 2 + 1.", "location": 2}</intervention>""",
    3, ok(r"Half of 2 is 1.\nThen the total is 2 + 1.", 2))

add("neq-and-newline-in-gsm8k", SHOP + r"""
<intervention>{"content": "2 x 1.50 \neq 2.50.\nTwo pens at 1.50 each cost 1.50 + 1.50 = 3.00.", "location": 2}</intervention>""",
    4, ok("2 x 1.50 \\neq 2.50.\nTwo pens at 1.50 each cost 1.50 + 1.50 = 3.00.", 2))


# =============================================================================================
# 12. Location spellings that name one step unambiguously (the FIRST step named is taken).
# =============================================================================================

_ROBE_FIX = "Half of the 2 blue bolts is 2 / 2 = 1 bolt of white fiber."
_DUCKS_FIX = "She eats 3 and bakes with 4, so she uses 3 + 4 = 7 eggs, not 3 x 4."
_HERON_FIX = r"Since the area is $\frac{1}{2} \cdot BC \cdot h$, I get $h = \frac{2 \cdot \text{Area}}{BC}$."
_SHOP_FIX = "Two pens at $1.50 each cost 1.50 + 1.50 = 3.00 dollars."

add("loc-string-digit", ROBE + r"""
<intervention>{"content": "Half of the 2 blue bolts is 2 / 2 = 1 bolt of white fiber.", "location": "2"}</intervention>""",
    3, ok(_ROBE_FIX, 2))

add("loc-substep-word", DUCKS + r"""
<intervention>{"content": "She eats 3 and bakes with 4, so she uses 3 + 4 = 7 eggs, not 3 x 4.", "location": "Substep 2"}</intervention>""",
    4, ok(_DUCKS_FIX, 2))

add("loc-substep-hash", ROBE + r"""
<intervention>{"content": "Half of the 2 blue bolts is 2 / 2 = 1 bolt of white fiber.", "location": "substep #2"}</intervention>""",
    3, ok(_ROBE_FIX, 2))

add("loc-step-lower", HERON + r"""
<intervention>{"content": "Since the area is $\frac{1}{2} \cdot BC \cdot h$, I get $h = \frac{2 \cdot \text{Area}}{BC}$.", "location": "step 3"}</intervention>""",
    6, ok(_HERON_FIX, 3))

add("loc-step-colon", HERON + r"""
<intervention>{"content": "Since the area is $\frac{1}{2} \cdot BC \cdot h$, I get $h = \frac{2 \cdot \text{Area}}{BC}$.", "location": "Step 3:"}</intervention>""",
    6, ok(_HERON_FIX, 3))

add("loc-s-prefix", HERON + r"""
<intervention>{"content": "Since the area is $\frac{1}{2} \cdot BC \cdot h$, I get $h = \frac{2 \cdot \text{Area}}{BC}$.", "location": "S3"}</intervention>""",
    6, ok(_HERON_FIX, 3))

add("loc-brackets-string", INTEGRAL + r"""
<intervention>{"content": "The antiderivative of $\cos u$ is $\sin u$, because $(\sin u)' = \cos u$.", "location": "[3]"}</intervention>""",
    4, ok(r"The antiderivative of $\cos u$ is $\sin u$, because $(\sin u)' = \cos u$.", 3))

add("loc-parens-string", ABS + r"""
<intervention>{"content": "I need to add 3 to all three parts, not subtract it.", "location": "(2)"}</intervention>""",
    3, ok("I need to add 3 to all three parts, not subtract it.", 2))

add("loc-bold-markdown", VIETA + r"""
<intervention>{"content": "I must subtract $2rs$, since $(r+s)^2 = r^2 + 2rs + s^2$.", "location": "**Substep 2**"}</intervention>""",
    3, ok("I must subtract $2rs$, since $(r+s)^2 = r^2 + 2rs + s^2$.", 2))

add("loc-with-description", MOD10 + r"""
<intervention>{"content": "Let me redo the division: $4 \cdot 505 = 2020$, so 2023 leaves remainder 3 when divided by 4.", "location": "Substep 2 (the division)"}</intervention>""",
    4, ok(r"Let me redo the division: $4 \cdot 505 = 2020$, so 2023 leaves remainder 3 when divided by 4.", 2))

add("loc-colon-description", SHOP + r"""
<intervention>{"content": "Two pens at $1.50 each cost 1.50 + 1.50 = 3.00 dollars.", "location": "Substep 2: the pens"}</intervention>""",
    4, ok(_SHOP_FIX, 2))

add("loc-before-substep", HERON + r"""
I'll insert the fix just before the student computes $h$.

<intervention>{"content": "Since the area is $\frac{1}{2} \cdot BC \cdot h$, I get $h = \frac{2 \cdot \text{Area}}{BC}$.", "location": "Before Substep 4"}</intervention>""",
    6, ok(_HERON_FIX, 4))

add("loc-before-step-lower", SHOP + r"""
<intervention>{"content": "Two pens at $1.50 each cost 1.50 + 1.50 = 3.00 dollars.", "location": "before step 2"}</intervention>""",
    4, ok(_SHOP_FIX, 2))

add("loc-range-hyphen", HERON + r"""
<intervention>{"content": "Since the area is $\frac{1}{2} \cdot BC \cdot h$, I get $h = \frac{2 \cdot \text{Area}}{BC}$.", "location": "3-4"}</intervention>""",
    6, ok(_HERON_FIX, 3))

add("loc-range-en-dash", DUCKS + r"""
<intervention>{"content": "She eats 3 and bakes with 4, so she uses 3 + 4 = 7 eggs, not 3 x 4.", "location": "2–3"}</intervention>""",
    4, ok(_DUCKS_FIX, 2))

add("loc-substeps-range", SHOP + r"""
<intervention>{"content": "Two pens at $1.50 each cost 1.50 + 1.50 = 3.00 dollars.", "location": "Substeps 2-3"}</intervention>""",
    4, ok(_SHOP_FIX, 2))

add("loc-range-to", DUCKS + r"""
<intervention>{"content": "She eats 3 and bakes with 4, so she uses 3 + 4 = 7 eggs, not 3 x 4.", "location": "2 to 3"}</intervention>""",
    4, ok(_DUCKS_FIX, 2))

add("loc-comma-list", SHOP + r"""
<intervention>{"content": "Two pens at $1.50 each cost 1.50 + 1.50 = 3.00 dollars.", "location": "2, 3"}</intervention>""",
    4, ok(_SHOP_FIX, 2))

add("loc-and-list", INRADIUS + r"""
<intervention>{"content": "The area of a right triangle is half the product of the legs.", "location": "2 and 4"}</intervention>""",
    4, ok("The area of a right triangle is half the product of the legs.", 2))

add("loc-of-total", HERON + r"""
<intervention>{"content": "Since the area is $\frac{1}{2} \cdot BC \cdot h$, I get $h = \frac{2 \cdot \text{Area}}{BC}$.", "location": "Substep 3 of 6"}</intervention>""",
    6, ok(_HERON_FIX, 3))

add("loc-float-integral", BALLS + r"""
<intervention>{"content": "The first ball is not put back, so the second factor is 3 red out of 9.", "location": 2.0}</intervention>""",
    3, ok("The first ball is not put back, so the second factor is 3 red out of 9.", 2))

add("loc-json-array", DUCKS + r"""
<intervention>{"content": "She eats 3 and bakes with 4, so she uses 3 + 4 = 7 eggs, not 3 x 4.", "location": [2, 3]}</intervention>""",
    4, ok(_DUCKS_FIX, 2))

add("loc-json-array-single", INTEGRAL + r"""
<intervention>{"content": "The antiderivative of $\cos u$ is $\sin u$, because $(\sin u)' = \cos u$.", "location": [3]}</intervention>""",
    4, ok(r"The antiderivative of $\cos u$ is $\sin u$, because $(\sin u)' = \cos u$.", 3))

add("loc-string-padded", ROBE + r"""
<intervention>{"content": "Half of the 2 blue bolts is 2 / 2 = 1 bolt of white fiber.", "location": " 2 "}</intervention>""",
    3, ok(_ROBE_FIX, 2))

add("loc-last-step", HERON + r"""
<intervention>{"content": "Before boxing, let me double-check with the area formula: $\frac{1}{2} \cdot 14 \cdot 6 = 42 \neq 84$, so h = 6 cannot be right.", "location": 6}</intervention>""",
    6, ok(r"Before boxing, let me double-check with the area formula: $\frac{1}{2} \cdot 14 \cdot 6 = 42 \neq 84$, so h = 6 cannot be right.", 6))

add("loc-unquoted-step", CIRCLE + r"""
<intervention>{"content": "The radius is half the diameter, so r = 5.", "location": Step 2}</intervention>""",
    3, ok("The radius is half the diameter, so r = 5.", 2))


# =============================================================================================
# 13. Unusable locations: bad_location (never a neighbouring step, never the draft's location).
# =============================================================================================

add("loc-missing", ROBE + r"""
<intervention>{"content": "Half of the 2 blue bolts is 2 / 2 = 1 bolt of white fiber."}</intervention>""", 3, None, "bad_location")

add("loc-bool-true", ABS + r"""
<intervention>{'content': 'I need to add 3 to all three parts.', 'location': True}</intervention>""", 3, None, "bad_location")

add("loc-bool-false", ABS + r"""
<intervention>{"content": "I need to add 3 to all three parts.", "location": false}</intervention>""", 3, None, "bad_location")

add("loc-bare-n-copied-from-format", VIETA + r"""
<intervention>{"content": "I must subtract $2rs$, not add it.", "location": N}</intervention>""", 3, None, "bad_location")

add("loc-string-n", ODD + r"""
<intervention>{"content": "The sum of the first n odd numbers is n^2.", "location": "N"}</intervention>""", 3, None, "bad_location")

add("loc-string-non-integral", MOD10 + r"""
<intervention>{"content": "2023 = 4 x 505 + 3, so the remainder is 3.", "location": "2.5"}</intervention>""", 4, None, "bad_location")

add("loc-float-non-integral", MOD10 + r"""
<intervention>{"content": "2023 = 4 x 505 + 3, so the remainder is 3.", "location": 2.5}</intervention>""", 4, None, "bad_location")

add("loc-after-substep", DUCKS + r"""
<intervention>{"content": "She uses 3 + 4 = 7 eggs.", "location": "after substep 2"}</intervention>""", 4, None, "bad_location")

add("loc-zero-with-content", CIRCLE + r"""
<intervention>{"content": "The radius is half the diameter.", "location": 0}</intervention>""", 3, None, "bad_location")

add("loc-zero-string", ROBE + r"""
<intervention>{"content": "Half of 2 is 1.", "location": "0"}</intervention>""", 3, None, "bad_location")

add("loc-negative", ABS + r"""
<intervention>{"content": "Add 3 to all three parts.", "location": -1}</intervention>""", 3, None, "bad_location")

add("loc-too-large", DUCKS + r"""
<intervention>{"content": "She uses 3 + 4 = 7 eggs.", "location": 5}</intervention>""", 4, None, "bad_location")

add("loc-substep-too-large", HERON + r"""
<intervention>{"content": "h = 2 * Area / BC.", "location": "Substep 7"}</intervention>""", 6, None, "bad_location")

add("loc-no-number", SHOP + r"""
<intervention>{"content": "Two pens cost 3.00 dollars.", "location": "the multiplication step"}</intervention>""", 4, None, "bad_location")

add("loc-null", BALLS + r"""
<intervention>{"content": "Only 3 red balls remain among 9.", "location": null}</intervention>""", 3, None, "bad_location")

add("loc-empty-string", GRAD + r"""
<intervention>{"content": "The derivative of y^3 is 3y^2.", "location": ""}</intervention>""", 3, None, "bad_location")

add("draft-good-final-bad-location", INRADIUS + r"""
<intervention>{"content": "The area is half of 6 x 8.", "location": 2}</intervention>

Self-check passed; final version with the required format:

<intervention>{"content": "The area of a right triangle is half the product of the legs.", "location": N}</intervention>""",
    4, None, "bad_location")


# =============================================================================================
# 14. The prompt's format lines echoed back: never read unless they are the final block.
# =============================================================================================

add("echo-format-then-real", "The required output format is:\n\n" + FORMAT_LINE + "\n\nwhere N is the substep to replace.\n\n"
    + VIETA + r"""
<intervention>{"content": "Wait, $(r+s)^2 = r^2 + 2rs + s^2$, so I must subtract $2rs$ to get $r^2 + s^2$.", "location": 2}</intervention>""",
    3, ok("Wait, $(r+s)^2 = r^2 + 2rs + s^2$, so I must subtract $2rs$ to get $r^2 + s^2$.", 2))

add("echo-empty-example-then-real", CIRCLE + "\nIf I had found no error I would end with " + EMPTY_LINE
    + r""", but Substep 2 is wrong, so:

<intervention>{"content": "The radius is half of the diameter, so r = 5, not 10.", "location": 2}</intervention>""",
    3, ok("The radius is half of the diameter, so r = 5, not 10.", 2))

add("echo-both-examples-at-start", "I will verify the attempt and end with " + FORMAT_LINE + " (or with " + EMPTY_LINE
    + " if there is no error).\n\n" + DICE + r"""
<intervention>{"content": "Each pair like $(1,6)$ can come out in two orders, and both orders are different outcomes among the 36.", "location": 2}</intervention>""",
    3, ok("Each pair like $(1,6)$ can come out in two orders, and both orders are different outcomes among the 36.", 2))

add("echo-only-format", ROBE + "\n" + FORMAT_LINE, 3, None, "bad_location")

add("echo-format-after-real", MOD10 + r"""
<intervention>{"content": "Let me redo the division: 4 x 505 = 2020, so 2023 leaves remainder 3 when divided by 4.", "location": 2}</intervention>

(I followed the required format: """ + FORMAT_LINE + ")", 4, None, "bad_location")

add("echo-empty-after-real", COINS + r"""
<intervention>{"content": "TH also has a head, so I need to count it as well.", "location": 2}</intervention>

If there were no error I would have written """ + EMPTY_LINE + ".", 3, None, "empty_content")

add("echo-format-placeholders-filled-badly", ROBE + r"""
<intervention>{"content": "<the step the student should write instead>", "location": "<N>"}</intervention>""",
    3, None, "bad_location")


# =============================================================================================
# 15. Unclosed final blocks, tag spellings, code fences.
# =============================================================================================

add("unclosed-final-eof", DICE + r"""
<intervention>{"content": "There are 6 ordered pairs, so the probability is 1/6.", "location": 2}</intervention>

Self-check: this leaks $\frac{1}{6}$. Final:

<intervention>{"content": "Wait, the dice are distinguishable, so $(3,4)$ and $(4,3)$ are different outcomes and both must be counted.", "location": 2}""",
    3, ok("Wait, the dice are distinguishable, so $(3,4)$ and $(4,3)$ are different outcomes and both must be counted.", 2))

add("unclosed-final-trailing-prose", ROBE + r"""
<intervention>{"content": "Half that much means half of 2 bolts, so 2 / 2 = 1 bolt of white fiber.", "location": 2}

This replaces Substep 2 and leaves the total to the student.""",
    3, ok("Half that much means half of 2 bolts, so 2 / 2 = 1 bolt of white fiber.", 2))

add("unclosed-object-on-next-line", ODD + r"""
<intervention>
{"content": "Wait, $1 + 3 = 4 = 2^2$ and $1 + 3 + 5 = 9 = 3^2$, so the sum of the first $n$ odd numbers is $n^2$, not $n(n+1)$.", "location": 2}""",
    3, ok("Wait, $1 + 3 = 4 = 2^2$ and $1 + 3 + 5 = 9 = 3^2$, so the sum of the first $n$ odd numbers is $n^2$, not $n(n+1)$.", 2))

add("unclosed-inline-brace", CIRCLE + r"""
Final intervention: <intervention>{"content": "The radius is half the diameter, r = 10 / 2 = 5.", "location": 2}""",
    3, ok("The radius is half the diameter, r = 10 / 2 = 5.", 2))

add("unclosed-inline-fence", INRADIUS + r"""
Final: <intervention>```json
{"content": "The legs are the base and the height, so the area is half of 6 times 8.", "location": 2}
```""", 4, ok("The legs are the base and the height, so the area is half of 6 times 8.", 2))

add("uppercase-tags", GRAD + r"""
<INTERVENTION>{"content": "Wait, the derivative of $y^3$ is $3y^2$, so $f_y = x^2 + 3y^2$.", "location": 2}</INTERVENTION>""",
    3, ok("Wait, the derivative of $y^3$ is $3y^2$, so $f_y = x^2 + 3y^2$.", 2))

add("mixed-case-tags", COMMITTEE + r"""
<Intervention>{"content": "Wait, the order of choosing does not matter, so each committee is counted $3!$ times.", "location": 1}</Intervention>""",
    2, ok("Wait, the order of choosing does not matter, so each committee is counted $3!$ times.", 1))

add("spaces-in-tags", ABS + r"""
< intervention >{"content": "To undo the minus 3, I add 3 to all three parts.", "location": 2}</intervention >""",
    3, ok("To undo the minus 3, I add 3 to all three parts.", 2))

add("uppercase-draft-lowercase-final", TAN + r"""
<INTERVENTION>{"content": "$\theta = \frac{\pi}{3}$", "location": 2}</INTERVENTION>
Self-check: that is the answer. Revise.
<intervention>{"content": "Wait, $\tan\frac{\pi}{6} = \frac{1}{\sqrt{3}}$, so $\frac{\pi}{6}$ is not the angle I need.", "location": 2}</intervention>""",
    3, ok(r"Wait, $\tan\frac{\pi}{6} = \frac{1}{\sqrt{3}}$, so $\frac{\pi}{6}$ is not the angle I need.", 2))

add("code-fence-json", MOD10 + r"""
<intervention>
```json
{"content": "Let me redo the division: $4 \cdot 505 = 2020$, so the remainder is 3, not 1.", "location": 2}
```
</intervention>""", 4, ok(r"Let me redo the division: $4 \cdot 505 = 2020$, so the remainder is 3, not 1.", 2))

add("code-fence-no-language", BALLS + r"""
<intervention>
```
{"content": "Without replacement, the second draw has 3 red balls out of 9.", "location": 2}
```
</intervention>""", 3, ok("Without replacement, the second draw has 3 red balls out of 9.", 2))

add("code-fence-around-block", TAN + r"""
```
<intervention>{"content": "Wait, $\tan\frac{\pi}{6} = \frac{1}{\sqrt{3}}$, not $\sqrt{3}$.", "location": 2}</intervention>
```""", 3, ok(r"Wait, $\tan\frac{\pi}{6} = \frac{1}{\sqrt{3}}$, not $\sqrt{3}$.", 2))

add("code-fence-with-prose-in-block", HERON + r"""
<intervention>
Here is the final one:
```json
{
  "content": "Wait, the area is $\frac{1}{2} \cdot BC \cdot h$, so I need $h = \frac{2 \cdot \text{Area}}{BC}$.",
  "location": 3
}
```
</intervention>""", 6, ok(r"Wait, the area is $\frac{1}{2} \cdot BC \cdot h$, so I need $h = \frac{2 \cdot \text{Area}}{BC}$.", 3))

add("code-fence-only-empty-block", CIRCLE + r"""
<intervention>
```json
```
</intervention>""", 3, None, "empty_content")

add("code-fence-python-dict", DUCKS + r"""
<intervention>
```python
{'content': 'She eats 3 and bakes with 4; those add up to 3 + 4 = 7 eggs.', 'location': 2}
```
</intervention>""", 4, ok("She eats 3 and bakes with 4; those add up to 3 + 4 = 7 eggs.", 2))

add("code-fence-draft-and-final-blocks", COINS + r"""
<intervention>
```json
{"content": "3 of the 4 outcomes have a head.", "location": 2}
```
</intervention>
That is too close to the answer $\frac{3}{4}$.
<intervention>
```json
{"content": "Wait, TH has a head too: the head can be on either coin.", "location": 2}
```
</intervention>""", 3, ok("Wait, TH has a head too: the head can be on either coin.", 2))


# =============================================================================================
# 16. Truncated outputs, outputs with no block, and prose that merely mentions the tag.
# =============================================================================================

add("no-block-ran-out-mid-verification", VIETA[:VIETA.index("This is wrong.")] + "This is wrong. The identity is $(r+s)^2 = r^2 + 2rs + s^",
    3, None, "no_block")

add("no-block-word-only", DUCKS + "\nMy intervention would replace Substep 2 with a step that adds the eggs (3 + 4 = 7) "
    "instead of multiplying them.", 4, None, "no_block")

add("no-block-mention-only", ROBE + "\nNow I will write the <intervention> block with the fix. The fix should say that",
    3, None, "no_block")

add("no-block-closing-tag-only", r"""{"content": "Half of 2 bolts is 1 bolt of white fiber.", "location": 2}</intervention>""",
    3, None, "no_block")

add("no-block-empty-text", "", 3, None, "no_block")

add("no-block-json-without-tags", CIRCLE + r"""
```json
{"content": "The radius is half the diameter, so r = 5.", "location": 2}
```""", 3, None, "no_block")

add("no-block-markdown-heading", ABS + r"""
## Intervention

{"content": "Add 3 to all three parts, not subtract it.", "location": 2}""", 3, None, "no_block")

add("no-block-html-escaped-tags", SHOP + r"""
&lt;intervention&gt;{"content": "Two pens cost 1.50 + 1.50 = 3.00 dollars.", "location": 2}&lt;/intervention&gt;""",
    4, None, "no_block")

add("no-block-other-tag", GRAD + r"""
<answer>{"content": "The derivative of y^3 is 3y^2.", "location": 2}</answer>""", 3, None, "no_block")

add("truncated-right-after-open-tag", DICE + r"""
<intervention>{"content": "6 ordered pairs, so 1/6.", "location": 2}</intervention>

Self-check: leaks the answer. Rewriting.

<intervention>""", 3, None, "empty_content")

add("truncated-during-self-check", VIETA + r"""
Draft:

<intervention>{"content": "Since $(r+s)^2 = r^2 + 2rs + s^2$, I subtract $2rs$: $r^2 + s^2 = (r+s)^2 - 2rs$.", "location": 2}</intervention>

Self-check:
1. Does it contain the answer $19$? Let me""", 3,
    ok("Since $(r+s)^2 = r^2 + 2rs + s^2$, I subtract $2rs$: $r^2 + s^2 = (r+s)^2 - 2rs$.", 2),
    ambiguous_ok=True)  # the draft is the last block written; nothing says it was superseded

add("mention-before-real-block", "I'll put the fix in an <intervention> tag at the end, as required.\n\n" + ROBE + r"""
<intervention>{"content": "Half of the 2 blue bolts is 2 / 2 = 1 bolt of white fiber.", "location": 2}</intervention>""",
    3, ok(_ROBE_FIX, 2))

add("mention-after-final", INTEGRAL + r"""
<intervention>{"content": "Wait, $(\sin u)' = \cos u$, so the antiderivative of $\cos u$ is $+\sin u$.", "location": 3}</intervention>

I placed the <intervention> at Substep 3 because that is where the sign goes wrong.""",
    4, ok(r"Wait, $(\sin u)' = \cos u$, so the antiderivative of $\cos u$ is $+\sin u$.", 3))

add("mention-after-final-unclosed", DIVISORS + r"""
<intervention>{"content": "A divisor can use each prime with any exponent from 0 up to its exponent in 360, so each prime gives exponent + 1 choices.", "location": 2}

Note that this <intervention> does not compute the final count.""",
    3, ok("A divisor can use each prime with any exponent from 0 up to its exponent in 360, so each prime gives exponent + 1 choices.", 2))


# =============================================================================================
# 17. The object nested one level ({"intervention": {...}}), and reasoning-model <think> output.
# =============================================================================================

add("nested-intervention-key", VIETA + r"""
<intervention>{"intervention": {"content": "I must subtract $2rs$, because $(r+s)^2$ already contains $2rs$.", "location": 2}}</intervention>""",
    3, ok("I must subtract $2rs$, because $(r+s)^2$ already contains $2rs$.", 2))

add("nested-with-analysis", DIVISORS + r"""
<intervention>
{
  "analysis": "Substep 2 multiplies the exponents instead of (exponent + 1).",
  "intervention": {
    "content": "Wait, a divisor may also leave a prime out (exponent 0), so each prime gives (exponent + 1) choices.",
    "location": 2
  }
}
</intervention>""", 3, ok("Wait, a divisor may also leave a prime out (exponent 0), so each prime gives (exponent + 1) choices.", 2))

add("nested-final-key", HERON + r"""
<intervention>{"final": {"content": "The altitude satisfies $\frac{1}{2} \cdot BC \cdot h = \text{Area}$, so $h = \frac{2 \cdot \text{Area}}{BC}$.", "location": 3}}</intervention>""",
    6, ok(r"The altitude satisfies $\frac{1}{2} \cdot BC \cdot h = \text{Area}$, so $h = \frac{2 \cdot \text{Area}}{BC}$.", 3))

add("nested-two-levels-too-deep", ROUND + r"""
<intervention>{"result": {"intervention": {"content": "Only rotations are identified, so I divide by 5.", "location": 2}}}</intervention>""",
    3, None, "unparseable")

add("nested-bad-location", DUCKS + r"""
<intervention>{"intervention": {"content": "She uses 3 + 4 = 7 eggs.", "location": "after substep 2"}}</intervention>""",
    4, None, "bad_location")

add("think-draft-then-final", r"""<think>
The student uses n(n+1) for the sum of odd numbers. Let me draft:
<intervention>{"content": "The sum is $20^2 = 400$.", "location": 2}</intervention>
No, that gives away the answer. I'll explain the pattern instead.
</think>

""" + ODD + r"""
<intervention>{"content": "Let me test small cases: $1 = 1^2$, $1 + 3 = 2^2$, $1 + 3 + 5 = 3^2$. So the sum of the first $n$ odd numbers is $n^2$, not $n(n+1)$.", "location": 2}</intervention>""",
    3, ok("Let me test small cases: $1 = 1^2$, $1 + 3 = 2^2$, $1 + 3 + 5 = 3^2$. So the sum of the first $n$ odd numbers is $n^2$, not $n(n+1)$.", 2))

add("think-draft-then-final-none", r"""<think>
tan(pi/6) = 1/sqrt(3). Draft:
<intervention>{"content": "$\tan\frac{\pi}{6} = \frac{1}{\sqrt{3}}$", "location": 2}</intervention>
Hmm, but maybe the attempt is about cot? If so it is correct.
</think>

I am not confident that the attempt contains a critical error.

<intervention>None</intervention>""", 3, None, "empty_content")

add("content-surrounding-whitespace", ROBE + r"""
<intervention>{"content": "   Half of the 2 blue bolts is 2 / 2 = 1 bolt of white fiber.   ", "location": 2}</intervention>""",
    3, ok(_ROBE_FIX, 2))

add("long-six-step-log-repeated-drafts", HERON + r"""
Let me draft several candidates and keep the best.

Candidate A: <intervention>{"content": "h = 12", "location": 4}</intervention>
Candidate B: <intervention>{"content": "Use h = 2A / BC.", "location": 3}</intervention>
Candidate C: <intervention>{"content": "Wait, I dropped the 1/2 from the area formula: Area = (1/2) * BC * h, so h = 2 * Area / BC.", "location": 3}</intervention>

Self-check:
- A states the answer 12: rejected.
- B is correct but terse; it does not say why.
- C explains the fix and does not state the answer.

Final choice (C):

<intervention>{"content": "Wait, I dropped the 1/2 from the area formula: Area = (1/2) * BC * h, so h = 2 * Area / BC.", "location": 3}</intervention>""",
    6, ok("Wait, I dropped the 1/2 from the area formula: Area = (1/2) * BC * h, so h = 2 * Area / BC.", 3))
