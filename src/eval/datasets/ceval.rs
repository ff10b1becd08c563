//! C-Eval (52 subjects) and users' own multiple-choice sets in its layout (EvalScope's
//! `general_mcq`), with llmuses' Chinese prompt. C-Eval reads `ceval/val/<subject>_val.csv` and,
//! for examples, `ceval/dev/<subject>_dev.csv` (the release's `ceval-exam` folders, or the flat
//! `<subject>_val.csv` llmuses reads); `general_mcq` reads `general_mcq/<subset>_val.csv` and
//! `<subset>_dev.csv`. Columns by header: `question`, `A`, `B`… (up to `J`), `answer` (a letter),
//! and optionally `id` and `explanation`. Each question is "问题：{question}\nA. {A}\n…\n答案:",
//! continued by " A", " B"…; examples end "答案: {answer}", two blank lines apart, and the last one
//! runs straight into the question, as llmuses' `'\n'.join(...).strip()` leaves them.

use std::path::{Path, PathBuf};

use super::{ChoiceScoring, FewshotSampler, McqDoc, PromptStyle, TaskData, required_file, subset_names};
use crate::input::{BadInput, Problem, Problems};

/// Every subject: (key, Chinese name, category), as C-Eval's `subject_mapping.json`.
pub const SUBJECTS: [(&str, &str, &str); 52] = [
    ("computer_network", "计算机网络", "stem"),
    ("operating_system", "操作系统", "stem"),
    ("computer_architecture", "计算机组成", "stem"),
    ("college_programming", "大学编程", "stem"),
    ("college_physics", "大学物理", "stem"),
    ("college_chemistry", "大学化学", "stem"),
    ("advanced_mathematics", "高等数学", "stem"),
    ("probability_and_statistics", "概率统计", "stem"),
    ("discrete_mathematics", "离散数学", "stem"),
    ("electrical_engineer", "注册电气工程师", "stem"),
    ("metrology_engineer", "注册计量师", "stem"),
    ("high_school_mathematics", "高中数学", "stem"),
    ("high_school_physics", "高中物理", "stem"),
    ("high_school_chemistry", "高中化学", "stem"),
    ("high_school_biology", "高中生物", "stem"),
    ("middle_school_mathematics", "初中数学", "stem"),
    ("middle_school_biology", "初中生物", "stem"),
    ("middle_school_physics", "初中物理", "stem"),
    ("middle_school_chemistry", "初中化学", "stem"),
    ("veterinary_medicine", "兽医学", "stem"),
    ("college_economics", "大学经济学", "social_science"),
    ("business_administration", "工商管理", "social_science"),
    ("marxism", "马克思主义基本原理", "social_science"),
    ("mao_zedong_thought", "毛泽东思想和中国特色社会主义理论体系概论", "social_science"),
    ("education_science", "教育学", "social_science"),
    ("teacher_qualification", "教师资格", "social_science"),
    ("high_school_politics", "高中政治", "social_science"),
    ("high_school_geography", "高中地理", "social_science"),
    ("middle_school_politics", "初中政治", "social_science"),
    ("middle_school_geography", "初中地理", "social_science"),
    ("modern_chinese_history", "近代史纲要", "humanities"),
    ("ideological_and_moral_cultivation", "思想道德修养与法律基础", "humanities"),
    ("logic", "逻辑学", "humanities"),
    ("law", "法学", "humanities"),
    ("chinese_language_and_literature", "中国语言文学", "humanities"),
    ("art_studies", "艺术学", "humanities"),
    ("professional_tour_guide", "导游资格", "humanities"),
    ("legal_professional", "法律职业资格", "humanities"),
    ("high_school_chinese", "高中语文", "humanities"),
    ("high_school_history", "高中历史", "humanities"),
    ("middle_school_history", "初中历史", "humanities"),
    ("civil_servant", "公务员", "other"),
    ("sports_science", "体育学", "other"),
    ("plant_protection", "植物保护", "other"),
    ("basic_medicine", "基础医学", "other"),
    ("clinical_medicine", "临床医学", "other"),
    ("urban_and_rural_planner", "注册城乡规划师", "other"),
    ("accountant", "注册会计师", "other"),
    ("fire_engineer", "注册消防工程师", "other"),
    ("environmental_impact_assessment_engineer", "环境影响评价工程师", "other"),
    ("tax_accountant", "税务师", "other"),
    ("physician", "医师资格", "other"),
];

const LETTERS: [&str; 10] = ["A", "B", "C", "D", "E", "F", "G", "H", "I", "J"];

/// The C-Eval subjects named in `subsets` (all 52 when none are) whose files are there.
pub fn load(dir: &Path, subsets: &[String]) -> Result<Vec<TaskData>, BadInput> {
    let unknown: Vec<&String> = subsets.iter().filter(|s| !SUBJECTS.iter().any(|(n, ..)| n == s)).collect();
    if !unknown.is_empty() {
        return Err(Problem::new(format!(
            "no C-Eval subject {}: `jury eval --list` names them all",
            unknown.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ")
        ))
        .into());
    }
    let root = ["ceval", "ceval-exam"].iter().map(|f| dir.join(f)).find(|p| p.is_dir()).unwrap_or(dir.join("ceval"));
    let mut tasks = Vec::new();
    let mut problems = Problems::default();
    for (subject, chinese, category) in
        SUBJECTS.iter().filter(|(n, ..)| subsets.is_empty() || subsets.iter().any(|s| s == n))
    {
        let description = format!("以下是中国关于{chinese}考试的单项选择题，请选出其中的正确答案。\n");
        match task(
            &root,
            subject,
            format!("ceval_{subject}"),
            vec![format!("ceval_{category}"), "ceval".into()],
            description,
        ) {
            Ok(t) => tasks.push(t),
            Err(e) => problems.extend(e),
        }
    }
    problems.into_result()?;
    Ok(tasks)
}

/// Every `<subset>_val.csv` under `general_mcq/` (or the subsets named).
pub fn load_general(dir: &Path, subsets: &[String]) -> Result<Vec<TaskData>, BadInput> {
    let root = dir.join("general_mcq");
    let names = subset_names(&root, "_val.csv", subsets)?;
    let mut tasks = Vec::new();
    let mut problems = Problems::default();
    for name in names {
        // EvalScope's general_mcq prefix; the subset's name does not enter the prompt.
        let description = "请回答问题，并选出其中的正确答案\n".to_string();
        match task(&root, &name, format!("general_mcq_{name}"), Vec::new(), description) {
            Ok(t) => tasks.push(t),
            Err(e) => problems.extend(e),
        }
    }
    problems.into_result()?;
    Ok(tasks)
}

fn task(
    root: &Path,
    subset: &str,
    name: String,
    groups: Vec<String>,
    description: String,
) -> Result<TaskData, BadInput> {
    let file = |split: &str| -> PathBuf {
        let nested = root.join(split).join(format!("{subset}_{split}.csv"));
        if nested.is_file() { nested } else { root.join(format!("{subset}_{split}.csv")) }
    };
    let val = file("val");
    let val = if val.is_file() { val } else { required_file(root, &format!("val/{subset}_val.csv"), "val file")? };
    let dev = file("dev");
    Ok(TaskData {
        name,
        groups,
        description,
        docs: read(&val)?,
        fewshot: if dev.is_file() { read(&dev)? } else { Vec::new() },
        acc_norm: false,
        scoring: ChoiceScoring::Accuracy,
        sampler: FewshotSampler::FirstN,
        style: PromptStyle::Llmuses,
    })
}

/// One CSV, columns found by header; every bad row is reported with its line.
pub fn read(file: &Path) -> Result<Vec<McqDoc>, BadInput> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(file)
        .map_err(|e| Problem::new(format!("cannot read: {e}")).in_file(file))?;
    let header = reader.headers().map_err(|e| Problem::new(format!("not valid CSV: {e}")).in_file(file))?.clone();
    let column = |name: &str| header.iter().position(|h| h.trim().trim_start_matches('\u{feff}') == name);
    let options: Vec<(&str, usize)> = LETTERS.iter().map_while(|l| column(l).map(|c| (*l, c))).collect();
    let (Some(question), Some(answer)) = (column("question"), column("answer")) else {
        return Err(Problem::new(format!(
            "the header must name question, A, B, … and answer (found: {})",
            header.iter().collect::<Vec<_>>().join(", ")
        ))
        .in_file(file)
        .at_line(Some(1))
        .into());
    };
    if options.len() < 2 {
        return Err(Problem::new("the header names fewer than two options (A, B, …)")
            .in_file(file)
            .at_line(Some(1))
            .into());
    }
    let id = column("id");
    let mut problems = Problems::default();
    let mut docs = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line() as usize);
                problems.push(Problem::new(format!("not valid CSV: {e}")).in_file(file).at_line(line));
                continue;
            }
        };
        let line = record.position().map(|p| p.line() as usize);
        let field = |i: usize| record.get(i).unwrap_or_default();
        let key = field(answer).trim();
        let Some(gold) = options.iter().position(|(l, _)| *l == key) else {
            let letters: Vec<&str> = options.iter().map(|(l, _)| *l).collect();
            problems.push(
                Problem::new(format!("the answer {key:?} is not one of the options {}", letters.join(", ")))
                    .in_file(file)
                    .at_line(line)
                    .at_key("answer"),
            );
            continue;
        };
        let mut text = format!("问题：{}", field(question));
        for (letter, column) in &options {
            text.push_str(&format!("\n{letter}. {}", field(*column)));
        }
        text.push_str("\n答案:");
        docs.push(McqDoc {
            id: id.map(|c| field(c).to_string()).filter(|s| !s.is_empty()),
            text,
            choices: options.iter().map(|(l, _)| l.to_string()).collect(),
            gold,
            labels: Vec::new(),
        });
    }
    problems.into_result()?;
    Ok(docs)
}
