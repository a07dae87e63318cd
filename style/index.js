import './base.css';
import './run.css';
