import './base.css';
import './run.css';
import './operations.css';
