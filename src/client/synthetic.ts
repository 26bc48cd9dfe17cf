/**
 * A generator of realistic synthetic medical records for devnets, tests and benchmarks:
 * conditions with their typical symptoms and prescriptions, file types and birth years, drawn
 * from a seeded PRNG so a run can be reproduced. The data are invented; no real patient is in it.
 */

interface Condition { disease: string, symptoms: string[], drugs: string[] }

/** Common conditions with typical presenting symptoms and first-line prescriptions (simplified). */
export const CONDITIONS: readonly Condition[] = [
  { disease: 'influenza', symptoms: ['fever', 'cough', 'myalgia', 'fatigue', 'sore throat'], drugs: ['oseltamivir 75 mg bid 5 d', 'paracetamol 1 g qid prn'] },
  { disease: 'covid-19', symptoms: ['fever', 'cough', 'anosmia', 'dyspnea', 'fatigue'], drugs: ['nirmatrelvir/ritonavir 300/100 mg bid 5 d', 'paracetamol 1 g qid prn'] },
  { disease: 'type 2 diabetes', symptoms: ['polyuria', 'polydipsia', 'fatigue', 'blurred vision'], drugs: ['metformin 500 mg bid', 'empagliflozin 10 mg qd'] },
  { disease: 'hypertension', symptoms: ['headache', 'dizziness', 'epistaxis'], drugs: ['amlodipine 5 mg qd', 'ramipril 5 mg qd'] },
  { disease: 'asthma', symptoms: ['wheezing', 'dyspnea', 'cough', 'chest tightness'], drugs: ['budesonide/formoterol 160/4.5 prn', 'salbutamol 100 µg prn'] },
  { disease: 'copd', symptoms: ['dyspnea', 'cough', 'sputum', 'wheezing'], drugs: ['tiotropium 18 µg qd', 'salbutamol 100 µg prn'] },
  { disease: 'community-acquired pneumonia', symptoms: ['fever', 'cough', 'dyspnea', 'pleuritic chest pain'], drugs: ['amoxicillin 1 g tid 5 d'] },
  { disease: 'urinary tract infection', symptoms: ['dysuria', 'frequency', 'suprapubic pain'], drugs: ['nitrofurantoin 100 mg bid 5 d'] },
  { disease: 'migraine', symptoms: ['headache', 'photophobia', 'nausea', 'aura'], drugs: ['sumatriptan 50 mg prn', 'ibuprofen 400 mg prn'] },
  { disease: 'major depressive disorder', symptoms: ['low mood', 'anhedonia', 'insomnia', 'fatigue'], drugs: ['sertraline 50 mg qd'] },
  { disease: 'gastroesophageal reflux', symptoms: ['heartburn', 'regurgitation', 'chest pain'], drugs: ['omeprazole 20 mg qd'] },
  { disease: 'atrial fibrillation', symptoms: ['palpitations', 'dyspnea', 'dizziness', 'fatigue'], drugs: ['apixaban 5 mg bid', 'bisoprolol 2.5 mg qd'] },
  { disease: 'heart failure', symptoms: ['dyspnea', 'orthopnea', 'edema', 'fatigue'], drugs: ['furosemide 40 mg qd', 'sacubitril/valsartan 49/51 mg bid'] },
  { disease: 'osteoarthritis', symptoms: ['joint pain', 'stiffness', 'reduced mobility'], drugs: ['paracetamol 1 g tid', 'diclofenac gel tid'] },
  { disease: 'hypothyroidism', symptoms: ['fatigue', 'weight gain', 'cold intolerance', 'constipation'], drugs: ['levothyroxine 50 µg qd'] },
  { disease: 'iron deficiency anemia', symptoms: ['fatigue', 'pallor', 'dyspnea'], drugs: ['ferrous sulfate 200 mg qd'] },
  { disease: 'acute otitis media', symptoms: ['ear pain', 'fever', 'irritability'], drugs: ['amoxicillin 500 mg tid 5 d'] },
  { disease: 'cellulitis', symptoms: ['erythema', 'swelling', 'pain', 'fever'], drugs: ['flucloxacillin 500 mg qid 7 d'] },
  { disease: 'chronic kidney disease', symptoms: ['fatigue', 'edema', 'nocturia'], drugs: ['dapagliflozin 10 mg qd'] },
  { disease: 'allergic rhinitis', symptoms: ['sneezing', 'rhinorrhea', 'nasal congestion', 'itchy eyes'], drugs: ['cetirizine 10 mg qd', 'fluticasone nasal spray qd'] }
]

export const FILE_TYPES = ['consultation-note', 'lab-report', 'imaging-report', 'discharge-summary', 'prescription'] as const

const FIRST = ['Ana', 'Ben', 'Chen', 'Dara', 'Eli', 'Fatima', 'Goran', 'Hana', 'Ivan', 'Jia', 'Kofi', 'Lena', 'Mateo', 'Nora', 'Omar', 'Priya', 'Quinn', 'Rosa', 'Sami', 'Tova']
const LAST = ['Almeida', 'Brown', 'Chowdhury', 'Dubois', 'Eriksen', 'Fischer', 'García', 'Haddad', 'Ito', 'Jensen', 'Kowalski', 'Lee', 'Mensah', 'Nguyen', 'Okafor', 'Petrov', 'Rossi', 'Silva', 'Tanaka', 'Weber']

export interface SyntheticRecord {
  personalInfo: { name: string, birthYear: number, sex: 'female' | 'male' }
  disease: string
  symptoms: string[]
  prescriptions: string[]
  fileType: string
  birthYear: number
  /** Index-2 keywords: the disease and the symptoms. */
  keywords: string[]
}

/** mulberry32: a small seeded PRNG for synthetic data (not for anything secret). */
export function seededRng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function pick<T> (rng: () => number, xs: readonly T[]): T {
  return xs[Math.floor(rng() * xs.length)] as T
}

/** One synthetic record. */
export function syntheticRecord (rng: () => number): SyntheticRecord {
  const c = pick(rng, CONDITIONS)
  const nSym = 2 + Math.floor(rng() * (c.symptoms.length - 1))
  const symptoms = [...c.symptoms].sort(() => rng() - 0.5).slice(0, nSym)
  const birthYear = 1930 + Math.floor(rng() * 91)
  return {
    personalInfo: { name: `${pick(rng, FIRST)} ${pick(rng, LAST)}`, birthYear, sex: rng() < 0.5 ? 'female' : 'male' },
    disease: c.disease,
    symptoms,
    prescriptions: c.drugs.slice(0, 1 + Math.floor(rng() * c.drugs.length)),
    fileType: pick(rng, FILE_TYPES),
    birthYear,
    keywords: [c.disease, ...symptoms]
  }
}
