"""Writes taskcases/dbbench/data/sample.jsonl: the bundled, self-authored dbbench sample set.

Every record has the original's fields. Query labels are computed by running the gold SQL on SQLite
here (the tests re-check them on every backend); mutations carry their gold SQL as the label and no
``answer_md5``, so their gold hash is computed on whatever backend scores them. Run from the project root:
``python extra/make_dbbench_sample.py``.
"""

import json
import sqlite3
from pathlib import Path

TABLES = {
    "Marathon Results": (
        ["Runner", "Country", "Time", "Age"],
        [["Ana Silva", "Brazil", "151", "29"], ["Kofi Mensah", "Ghana", "149", "31"],
         ["Lena Berg", "Norway", "158", "27"], ["Tomas Ruiz", "Spain", "162", "35"],
         ["Amani Otieno", "Kenya", "147", "26"], ["Joseph Kiptoo", "Kenya", "150", "33"]],
    ),
    "City Libraries": (
        ["Library", "City", "Books", "Opened"],
        [["Central Library", "Boston", "12000", "1895"], ["Harbor Branch", "Boston", "4500", "1972"],
         ["Oak Park Library", "Chicago", "8300", "1961"], ["Lakeside Library", "Chicago", "6100", "1988"],
         ["Maple Library", "Denver", "3900", "2004"], ["Union Library", "Denver", "7200", "1930"]],
    ),
    "Volcano Heights": (
        ["Volcano", "Country", "Height", "Last eruption"],
        [["Etna", "Italy", "3357", "2023"], ["Stromboli", "Italy", "924", "2022"],
         ["Hekla", "Iceland", "1491", "2000"], ["Fuji", "Japan", "3776", "1707"],
         ["Sakurajima", "Japan", "1117", "2023"], ["Teide", "Spain", "3715", "1909"]],
    ),
    "Chess Olympiad": (
        ["Team", "Gold", "Silver", "Bronze", "Captain"],
        [["Armenia", "3", "1", "2", "Petrosian"], ["Ukraine", "2", "2", "1", "Ivanchuk"],
         ["China", "2", "1", "3", "Ye"], ["India", "1", "2", "1", "Anand"],
         ["Norway", "0", "1", "2", "Carlsen"], ["Hungary", "1", "0", "2", "Polgar"]],
    ),
    "Orchestra Members": (
        ["Musician", "Instrument", "Section", "Years"],
        [["Clara Hahn", "Violin", "Strings", "12"], ["Omar Haddad", "Cello", "Strings", "8"],
         ["Ines Duarte", "Flute", "Woodwinds", "15"], ["Paul Novak", "Oboe", "Woodwinds", "4"],
         ["Rita Sato", "Trumpet", "Brass", "9"], ["Victor Lind", "Horn", "Brass", "21"]],
    ),
    "Mountain Huts": (
        ["Hut", "Range", "Beds", "Altitude"],
        [["Capanna Margherita", "Alps", "70", "4554"], ["Solvay Hut", "Alps", "10", "4003"],
         ["Goudier Hut", "Alps", "40", "2450"], ["Kibo Hut", "Kilimanjaro", "60", "4703"],
         ["Plateau Camp", "Andes", "24", "4300"], ["Refugio Plaza", "Andes", "30", "4370"]],
    ),
}


def q(value, quoted):
    return f"'{value}'" if quoted else value


def ident(name):
    return "`" + name + "`"


# (id, type, table, question, gold sql)
ITEMS = []


def add(kind, table, question, sql):
    ITEMS.append((f"{kind.lower().replace('aggregation-', '')}-{len(ITEMS):02d}", kind, table, question, sql))


T = ident
# counting
for table, col, val, quoted in [("Marathon Results", "Country", "Kenya", True), ("City Libraries", "City", "Boston", False),
                                ("Volcano Heights", "Country", "Japan", True), ("Orchestra Members", "Section", "Brass", False),
                                ("Mountain Huts", "Range", "Alps", False)]:
    add("counting", table, f"How many rows have {col} equal to {q(val, quoted)}?",
        f"SELECT COUNT(*) FROM {T(table)} WHERE {T(col)} = '{val}'")
# lookup
for table, target, col, val, quoted in [("Marathon Results", "Runner", "Time", "158", True),
                                        ("City Libraries", "Opened", "Library", "Maple Library", False),
                                        ("Chess Olympiad", "Captain", "Team", "India", True),
                                        ("Orchestra Members", "Instrument", "Musician", "Rita Sato", False),
                                        ("Mountain Huts", "Altitude", "Hut", "Kibo Hut", False),
                                        ("Volcano Heights", "Last eruption", "Volcano", "Hekla", True)]:
    add("other", table, f"What is the {target} of the row whose {col} is {q(val, quoted)}?",
        f"SELECT {T(target)} FROM {T(table)} WHERE {T(col)} = '{val}'")
# sum / average
for kind, word, fn, table, num, col, val, quoted in [
    ("aggregation-SUM", "total", "SUM", "City Libraries", "Books", "City", "Chicago", True),
    ("aggregation-SUM", "total", "SUM", "Chess Olympiad", "Gold", "Captain", "Anand", False),
    ("aggregation-SUM", "total", "SUM", "Mountain Huts", "Beds", "Range", "Andes", False),
    ("aggregation-AVG", "average", "AVG", "Marathon Results", "Age", "Country", "Kenya", True),
    ("aggregation-AVG", "average", "AVG", "Orchestra Members", "Years", "Section", "Woodwinds", False),
    ("aggregation-AVG", "average", "AVG", "Volcano Heights", "Height", "Country", "Italy", False),
]:
    add(kind, table, f"What is the {word} {num} of the rows whose {col} is {q(val, quoted)}?",
        f"SELECT {fn}({T(num)}) FROM {T(table)} WHERE {T(col)} = '{val}'")
# max / min over a numeric text column (needs a numeric cast: MAX on TEXT compares strings)
for kind, word, fn, table, num in [("aggregation-MAX", "highest", "MAX", "Volcano Heights", "Height"),
                                   ("aggregation-MIN", "lowest", "MIN", "Orchestra Members", "Years"),
                                   ("aggregation-MAX", "highest", "MAX", "City Libraries", "Books")]:
    add(kind, table, f"What is the {word} {num} in the table?", f"SELECT {fn}({T(num)} + 0) FROM {T(table)}")
# ranking
for word, order, table, target, num in [("highest", "DESC", "Marathon Results", "Runner", "Age"),
                                        ("lowest", "ASC", "Mountain Huts", "Hut", "Altitude"),
                                        ("highest", "DESC", "Chess Olympiad", "Team", "Bronze")]:
    add("ranking", table, f"Which {target} has the {word} {num}?",
        f"SELECT {T(target)} FROM {T(table)} ORDER BY {T(num)} + 0 {order}, {T(target)} LIMIT 1")
# comparison
for table, target, num, op, word, value, quoted in [("City Libraries", "Library", "Books", ">", "greater than", "7000", True),
                                                    ("Volcano Heights", "Volcano", "Height", ">", "greater than", "3000", False),
                                                    ("Orchestra Members", "Musician", "Years", "<", "less than", "10", False)]:
    add("comparison", table, f"Which {target} have a {num} {word} {q(value, quoted)}?",
        f"SELECT {T(target)} FROM {T(table)} WHERE {T(num)} {op} {value}")


def insert(table, pairs, quoted):
    parts = [f"{c} set to {q(v, quoted)}" for c, v in pairs]
    text = ", ".join(parts[:-1]) + " and " + parts[-1]
    cols = ", ".join(T(c) for c, _ in pairs)
    vals = ", ".join(f"'{v}'" for _, v in pairs)
    add("INSERT", table, f"Insert a new row with {text}.", f"INSERT INTO {T(table)} ({cols}) VALUES ({vals})")


insert("Marathon Results", [("Runner", "Mia Kovac"), ("Country", "Croatia"), ("Time", "155"), ("Age", "30")], True)
insert("City Libraries", [("Library", "River Library"), ("City", "Austin"), ("Books", "5200"), ("Opened", "1999")], False)
insert("Orchestra Members", [("Musician", "Ada Quist"), ("Instrument", "Harp"), ("Section", "Strings"), ("Years", "3")], False)
insert("Mountain Huts", [("Hut", "Lindner Hut"), ("Range", "Alps"), ("Beds", "35"), ("Altitude", "3100")], True)
insert("Volcano Heights", [("Volcano", "Vesuvius"), ("Country", "Italy"), ("Height", "1281"), ("Last eruption", "1944")], False)

for table, col, val, where, wval, quoted in [("Chess Olympiad", "Captain", "Aronian", "Team", "Armenia", True),
                                             ("Marathon Results", "Time", "146", "Runner", "Kofi Mensah", False),
                                             ("Volcano Heights", "Last eruption", "2024", "Volcano", "Etna", False),
                                             ("Orchestra Members", "Section", "Percussion", "Musician", "Paul Novak", True),
                                             ("City Libraries", "Books", "9100", "Library", "Harbor Branch", False)]:
    add("UPDATE", table, f"Set the {col} to {q(val, quoted)} for the row whose {where} is {q(wval, quoted)}.",
        f"UPDATE {T(table)} SET {T(col)} = '{val}' WHERE {T(where)} = '{wval}'")

for table, col, val, quoted in [("Mountain Huts", "Range", "Kilimanjaro", True), ("Chess Olympiad", "Team", "Hungary", False),
                                ("Marathon Results", "Country", "Spain", False)]:
    add("DELETE", table, f"Delete the rows whose {col} is {q(val, quoted)}.", f"DELETE FROM {T(table)} WHERE {T(col)} = '{val}'")


def run(table, sql):
    columns, rows = TABLES[table]
    conn = sqlite3.connect(":memory:")
    conn.execute(f"CREATE TABLE {T(table)} ({', '.join(T(c) + ' TEXT' for c in columns)})")
    conn.executemany(f"INSERT INTO {T(table)} VALUES ({', '.join('?' for _ in columns)})", rows)
    return conn.execute(sql.replace(" > ", " + 0 > ").replace(" < ", " + 0 < ")).fetchall()


def main():
    out = Path(__file__).resolve().parents[1] / "taskcases" / "dbbench" / "data" / "sample.jsonl"
    lines = []
    for sample_id, kind, table, question, sql in ITEMS:
        columns, rows = TABLES[table]
        record = {
            "id": sample_id,
            "description": question,
            "table": {"table_name": table, "table_info": {"columns": [{"name": c, "type": "TEXT"} for c in columns],
                                                          "rows": rows}},
            "type": [kind],
            "heads": columns,
            "add_description": f"The name of this table is {table}, and the headers of this table are {','.join(columns)}.",
            "source": "pytest-amb",
        }
        if kind in ("INSERT", "UPDATE", "DELETE"):
            record["label"] = [sql]
        else:
            record["label"] = [str(v[0]) for v in run(table, sql)]
            record["sql"] = {"query": sql}
        lines.append(json.dumps(record, ensure_ascii=False))
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(lines)} samples -> {out}")


if __name__ == "__main__":
    main()
